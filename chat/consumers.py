import json
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat import close_codes, flow, fragments, generation, live, liveness, quotas, sessions
from chat.models import Message

logger = logging.getLogger("bowout.chat")

MAX_FRAME_BYTES = 256 * 1024
UNREADABLE = "That message could not be read. Reload the page and try again."
# Also after a password change in this browser: Django gives the session a new key, which this socket
# cannot learn, so a reload (with the new cookie) is the way on.
LOGGED_OUT = (
    "Your session has ended (a logout, or a password change). Reload the page, or log in again, to go on."
)
TOO_MANY_SOCKETS = (
    "This tab was disconnected because you opened {limit} chats at once in other tabs or windows, the most "
    "allowed. Close some of them, then reload this page to use it here again."
)


class ConversationConsumer(AsyncWebsocketConsumer):
    """One open tab of one conversation. Generation runs as its own task, so this consumer stays free
    to handle Stop and to disconnect while a reply streams."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        # Accepted before closing: a close during the handshake reaches the page as a bare 1006, which the
        # ws extension retries forever; a close code after the accept lets the page say what happened.
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=close_codes.SIGNED_OUT)
            return
        try:
            conversation = await database_sync_to_async(flow.get_conversation)(
                user, self.scope["url_route"]["kwargs"]["conversation_id"]
            )
        except flow.ConversationNotFound:
            await self.accept()
            await self.close(code=close_codes.DELETED)
            return
        self.user = user
        self.conversation_id = conversation.pk
        self.group_name = conversation.group_name
        # Join the group before reading the snapshot, so nothing between the two is missed.
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        await self._join_user_sockets()
        # The page says which state it shows (?v=); a tab that is up to date is left alone.
        shown = parse_qs(self.scope.get("query_string", b"").decode()).get("v", [""])[0]
        snapshot, streaming = await database_sync_to_async(self._snapshot_and_streaming)(shown)
        if snapshot:
            await self.send(text_data=snapshot)
        if streaming:
            # The database has the reply as of its last checkpoint; its writer has all of it.
            await live.ask_writer_for_text(self.conversation_id, self.channel_name)

    def _snapshot_and_streaming(self, shown: str = "") -> tuple[str, bool]:
        snapshot = self._snapshot(shown)
        streaming = Message.objects.filter(
            conversation_id=self.conversation_id, status=Message.Status.STREAMING
        ).exists()
        return snapshot, streaming

    def _snapshot(self, shown: str = "") -> str:
        """The conversation as saved, or "" when the tab already shows exactly that."""
        conversation = flow.get_conversation(self.user, self.conversation_id)
        liveness.interrupt_orphaned_replies(conversation)
        if shown and shown == fragments.state_token(conversation):
            return ""
        return fragments.render_snapshot(conversation)

    async def dispatch(self, message: dict) -> None:
        # Channels runs close_old_connections on the database thread before every event: a thread hop
        # per stream frame per tab. Layer events carry finished text and touch no database, so they
        # skip it (the ORM calls elsewhere go through database_sync_to_async, which does its own).
        if message.get("type") == "chat.frame":
            await self.send(text_data=message["frame"])
        elif message.get("type") == "chat.html":
            await self.send(text_data=message["html"])
        else:
            await super().dispatch(message)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group_name"):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)
        if hasattr(self, "user"):
            await self.channel_layer.group_discard(sessions.user_group(self.user.pk), self.channel_name)
            await database_sync_to_async(quotas.unregister_socket)(self.user.pk, self.channel_name)

    async def _join_user_sockets(self) -> None:
        """Listen for this user's logouts, and count this socket; over the limit the oldest ones close."""
        await self.channel_layer.group_add(sessions.user_group(self.user.pk), self.channel_name)
        evicted = await database_sync_to_async(quotas.register_socket)(self.user.pk, self.channel_name)
        for channel_name in evicted:
            await self.channel_layer.send(channel_name, {"type": "socket.evicted"})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not await database_sync_to_async(self._session_is_valid)():
            await self._close_logged_out()
            return
        data = self._parse(text_data)
        if data is None:
            await self.send_error(UNREADABLE)
            return
        action = data.get("action") or "send"
        handlers = {
            "send": self.send_message,
            "stop": self.stop_reply,
            "retry": self.retry_reply,
            "regenerate": self.regenerate_reply,
            "resync": self.resync_reply,
        }
        handler = handlers.get(action) if isinstance(action, str) else None
        if handler is None:
            logger.warning("Socket frame with an unknown action from user %s", self.user.pk)
            await self.send_error("Unknown action.")
            return
        try:
            await handler(data)
        except flow.ConversationNotFound:
            await self.close(code=close_codes.DELETED)
        except flow.ChatError as error:
            await self.send_error(error.message)

    def _parse(self, text_data: str | None) -> dict | None:
        """A frame as a JSON object, or None (logged) for anything else: binary, too long, not JSON,
        nested deeper than the parser's recursion limit, or JSON that is not an object."""
        if text_data is None or len(text_data) > MAX_FRAME_BYTES:
            logger.warning("Unreadable socket frame from user %s (binary or too long)", self.user.pk)
            return None
        try:
            data = json.loads(text_data)
        except (ValueError, RecursionError) as error:
            logger.warning("Unreadable socket frame from user %s: %s", self.user.pk, type(error).__name__)
            return None
        if not isinstance(data, dict):
            logger.warning("Socket frame from user %s is not a JSON object", self.user.pk)
            return None
        return data

    def _session_is_valid(self) -> bool:
        session = self.scope.get("session")
        return sessions.session_is_valid(session.session_key if session else None, self.user.pk)

    async def _close_logged_out(self) -> None:
        await self.send_error(LOGGED_OUT)
        await self.close(code=close_codes.SIGNED_OUT)

    async def session_check(self, event: dict) -> None:
        """A logout, password change or deactivation of this user, somewhere: is this socket's session
        still good?"""
        session = self.scope.get("session")
        if event.get("ended_session") and session and session.session_key == event["ended_session"]:
            await self._close_logged_out()
        elif not await database_sync_to_async(self._session_is_valid)():
            await self._close_logged_out()

    async def socket_evicted(self, event: dict) -> None:
        await self.send_error(TOO_MANY_SOCKETS.format(limit=settings.BOWOUT_OPEN_SOCKETS))
        await self.close(code=close_codes.FORBIDDEN)

    async def send_message(self, data: dict) -> None:
        posted = await database_sync_to_async(flow.post_user_message)(
            self.user, self.conversation_id, data.get("text"), data.get("client_id")
        )
        if not posted.created:
            # A resend after a reconnect: nothing new, but make sure this tab shows what exists.
            await self.send(text_data=await database_sync_to_async(self._snapshot)())
            return
        await fragments.publish(self.conversation_id, fragments.render_posted(posted))
        if posted.reply is not None:  # always, for a new send
            generation.start_generation(posted.reply)

    async def stop_reply(self, data: dict) -> None:
        reply = await database_sync_to_async(flow.request_stop)(self.user, self.conversation_id)
        if reply is not None:
            await generation.stop_generation(self.conversation_id, reply.pk)

    async def resync_reply(self, data: dict) -> None:
        """The tab missed part of a streaming reply: its writer sends this tab the whole text."""
        await live.ask_writer_for_text(self.conversation_id, self.channel_name)

    async def retry_reply(self, data: dict) -> None:
        reply = await database_sync_to_async(flow.retry_reply)(
            self.user, self.conversation_id, data.get("message_id")
        )
        await fragments.publish(self.conversation_id, fragments.render_appended(reply))
        generation.start_generation(reply)

    async def regenerate_reply(self, data: dict) -> None:
        reply = await database_sync_to_async(flow.regenerate_reply)(
            self.user, self.conversation_id, data.get("message_id")
        )
        # The whole list: every tab swaps the earlier version for the new one being written.
        snapshot = await database_sync_to_async(fragments.render_snapshot)(reply.conversation)
        await fragments.publish(self.conversation_id, snapshot)
        generation.start_generation(reply)

    async def send_error(self, text: str) -> None:
        await self.send(text_data=fragments.render_error(text))

    async def chat_frame(self, event: dict) -> None:
        await self.send(text_data=event["frame"])

    async def chat_close(self, event: dict) -> None:
        """The conversation is gone for every tab (deleted in one of them): close with a code that says so."""
        await self.close(code=event["code"])
