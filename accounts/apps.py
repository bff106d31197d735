from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's own app is labelled "Accounts" in the admin too; this one holds the people.
    verbose_name = "People"
    default_auto_field = "django.db.models.BigAutoField"
