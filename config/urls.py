from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # Before admin/: the welfare dashboard lives under the admin's prefix but is not a model page.
    path("admin/welfare/", include("welfare_admin.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("chat.urls")),
]
