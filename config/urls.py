from django.contrib import admin
from django.urls import include, path

from config.admin_login import admin_login

urlpatterns = [
    # Before admin/: the welfare dashboard lives under the admin's prefix but is not a model page.
    path("admin/welfare/", include("welfare_admin.urls")),
    # Before admin/: the admin logs in through allauth's form, with its rate limits and lockout.
    path("admin/login/", admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("chat.urls")),
]
