from django.apps import AppConfig


class WelfareAdminConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "welfare_admin"
    verbose_name = "Welfare audit"
