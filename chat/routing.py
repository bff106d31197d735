from django.urls import path

from chat.consumers import ConversationConsumer

websocket_urlpatterns = [
    # Channels routes ASGI apps with Django's path(), whose stubs expect a view.
    path("ws/c/<str:conversation_id>/", ConversationConsumer.as_asgi()),  # type: ignore[arg-type]
]
