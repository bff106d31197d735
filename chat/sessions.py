"""An open socket obeys the session it was opened with.

A socket authenticates once, at connect. Each frame re-checks (two indexed reads) that its session still
exists, still belongs to the user, still carries the hash of the user's current password, and that the
user is active. Logouts, password changes and deactivations also tell the user's open sockets at once,
through a per-user channel-layer group, so an idle tab is closed too and not only the next frame refused.
"""

import logging
from importlib import import_module

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model, user_logged_out
from django.db import transaction
from django.db.models.signals import post_save
from django.utils.crypto import constant_time_compare

logger = logging.getLogger("bowout.chat")


def user_group(user_id: int) -> str:
    """Every open socket of one user listens here (plain ASCII, as channel-layer group names must be)."""
    return f"user.{user_id}"


def session_is_valid(session_key: str | None, user_id: int) -> bool:
    """The same test Django applies to each HTTP request, read fresh from the session store."""
    if not session_key:
        return False
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    if str(data.get(SESSION_KEY)) != str(user_id):
        return False
    user = get_user_model().objects.filter(pk=user_id, is_active=True).only("password").first()
    if user is None:
        return False
    stored = data.get(HASH_SESSION_KEY)
    return bool(stored) and constant_time_compare(stored, user.get_session_auth_hash())


def _tell_sockets(user_id: int, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    def send() -> None:
        try:
            async_to_sync(layer.group_send)(user_group(user_id), event)
        except Exception:  # a layer outage must not turn a logout into an error page
            logger.warning("Could not tell user %s's sockets about a session change", user_id, exc_info=True)

    transaction.on_commit(send)


def _on_logout(sender, request, user, **kwargs) -> None:
    if user is not None and request is not None:
        # Sent before the session is flushed: name it, so its sockets close without re-reading it.
        _tell_sockets(user.pk, {"type": "session.check", "ended_session": request.session.session_key})


def _on_password_change(sender, request=None, user=None, **kwargs) -> None:
    # allauth sends these after the changing session got the new hash, so only the others close.
    if user is not None:
        _tell_sockets(user.pk, {"type": "session.check", "ended_session": ""})


def _on_user_saved(sender, instance, created: bool, **kwargs) -> None:
    # A password set anywhere (staff in the admin, `changepassword`) leaves `_password` set until save()
    # returns: the user's other sessions are outdated, and allauth sends no signal for those paths.
    password_set = getattr(instance, "_password", None) is not None
    if not created and (password_set or not instance.is_active):
        _tell_sockets(instance.pk, {"type": "session.check", "ended_session": ""})


def connect_signals() -> None:
    from allauth.account import signals as allauth_signals

    user_logged_out.connect(_on_logout, dispatch_uid="bowout.sessions.logout")
    for signal in (
        allauth_signals.password_changed,
        allauth_signals.password_reset,
        allauth_signals.password_set,
    ):
        signal.connect(_on_password_change, dispatch_uid=f"bowout.sessions.{id(signal)}")
    post_save.connect(_on_user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="bowout.sessions.saved")
