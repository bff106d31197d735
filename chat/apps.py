from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat import sessions

        # Logouts, password changes and deactivations close the user's open sockets.
        sessions.connect_signals()
