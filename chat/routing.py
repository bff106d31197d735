import logging

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

from chat.consumers import ConversationConsumer

logger = logging.getLogger("bowout.chat")


class UnknownSocketPath(AsyncWebsocketConsumer):
    """A socket to a path Bowout does not serve: refused at the handshake (HTTP 403), with a warning."""

    async def connect(self) -> None:
        logger.warning("Refused a socket to an unknown path: %r", self.scope.get("path"))
        await self.close()


websocket_urlpatterns = [
    # Channels routes ASGI apps with Django's path(), whose stubs expect a view.
    path("ws/c/<str:conversation_id>/", ConversationConsumer.as_asgi()),  # type: ignore[arg-type]
    # Last: any other path is refused cleanly instead of raising "No route found".
    re_path(r"", UnknownSocketPath.as_asgi()),  # type: ignore[arg-type]
]
