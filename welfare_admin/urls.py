from django.contrib import admin
from django.urls import path

from welfare_admin import views

app_name = "welfare_admin"

urlpatterns = [
    # admin_view: staff only (others go to the admin login), never cached, CSRF-protected.
    path("", admin.site.admin_view(views.dashboard), name="dashboard"),
]
