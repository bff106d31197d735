from django.urls import path

from accounts import views

urlpatterns = [
    path("delete/", views.delete_account, name="account_delete"),
    path("settings/", views.account_settings, name="account_settings"),
]
