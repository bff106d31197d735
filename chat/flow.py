"""Posting, stopping, ending and branching: the one path that the websocket and the HTTP views share.

Writes happen in short transactions that start with a conditional UPDATE of the conversation row, so
that on SQLite (IMMEDIATE transactions) and PostgreSQL (row lock) alike two racing requests are put in
line. No transaction is held while the model streams.
"""

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from chat import claude, quotas, welfare
from chat.models import (
    Conversation,
    ConversationEvent,
    End,
    EndedBy,
    EndReason,
    Message,
    MessageRating,
    UserRequest,
)

logger = logging.getLogger("bowout.chat")


class ChatError(Exception):
    """A request that cannot be carried out; `message` is shown to the user as it is."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConversationNotFound(ChatError):
    status = 404

    def __init__(self) -> None:
        super().__init__("This conversation does not exist.")


class ReplyInProgress(ChatError):
    status = 409

    def __init__(self) -> None:
        super().__init__("Claude is still writing a reply. Wait for it to finish, or press Stop.")


class InvalidMessage(ChatError):
    status = 400


class ConversationEnded(ChatError):
    status = 409

    def __init__(self) -> None:
        super().__init__(
            "This conversation has ended. You can read it, but nothing more can be added. "
            "Start a new chat to keep talking."
        )


class QuotaExceeded(ChatError):
    """A per-user limit (chat/quotas.py); the message says when the user can go on."""

    status = 429


def _enforce(refusal: quotas.Refusal | None) -> None:
    if refusal is not None:
        raise QuotaExceeded(refusal.message)


def _enforce_model_call(user) -> None:
    """Before a write that starts a reply: replies at once, tokens today, then count this call. Inside
    the write transaction; the user's row is taken first, so two sends in two chats at once are counted
    one after the other (PostgreSQL; SQLite's IMMEDIATE transactions already run one at a time)."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
    _enforce(quotas.concurrent_replies(user))
    _enforce(quotas.tokens_left(user))
    _enforce(quotas.spend_model_call(user))


def welfare_policy() -> welfare.Policy:
    return welfare.Policy(
        model_can_end=settings.BOWOUT_MODEL_CAN_END,
        min_user_turns_before_end=settings.BOWOUT_MIN_USER_TURNS_BEFORE_END,
        crisis_terms=tuple(settings.BOWOUT_CRISIS_TERMS),
    )


# --- Looking up -----------------------------------------------------------------------------------


def get_conversation(user, conversation_id: Any) -> Conversation:
    """The owner check every entry point uses: someone else's or an unknown id is simply not found."""
    try:
        pk = uuid.UUID(str(conversation_id))
    except ValueError:
        raise ConversationNotFound() from None
    conversation = Conversation.objects.for_user(user).filter(pk=pk).first()
    if conversation is None:
        raise ConversationNotFound()
    return conversation


def _lock_open_conversation(user, conversation_id: Any) -> Conversation:
    """Inside a write transaction: the guard that an end holds. The conditional UPDATE takes the row
    (PostgreSQL re-checks `ended_at` after waiting for a concurrent end; SQLite's IMMEDIATE transactions
    run one at a time), so no write can slip in after an end commits."""
    conversation = get_conversation(user, conversation_id)
    touched = Conversation.objects.filter(pk=conversation.pk, ended_at__isnull=True).update(
        updated_at=timezone.now()
    )
    if not touched:
        raise ConversationEnded()
    return conversation


def check_storable(text: str, what: str) -> str:
    """Text the database can keep: PostgreSQL refuses NUL in text, and no database can encode a lone
    surrogate (a JSON frame can carry one). Both are refused with a reason instead of a server error."""
    if "\x00" in text:
        logger.warning("Refused %s with a NUL character", what)
        raise InvalidMessage(
            f"The {what} contains a NUL character (\\0), which cannot be saved. Remove it and try again."
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        logger.warning("Refused %s with a lone surrogate", what)
        raise InvalidMessage(
            f"The {what} contains an invalid character (a lone UTF-16 surrogate), which cannot be saved."
        ) from None
    return text


def clean_text(text: Any) -> str:
    if not isinstance(text, str):
        raise InvalidMessage("A message must be text.")
    check_storable(text, "message")
    text = text.strip()
    if not text:
        raise InvalidMessage("Type a message before sending.")
    limit = settings.BOWOUT_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise InvalidMessage(
            f"Messages can be at most {limit:,} characters; this one has {len(text):,}. Shorten it and send again."
        )
    return text


def parse_client_id(value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidMessage(
            "This message could not be sent (bad message id). Reload the page and try again."
        ) from None


# --- Posting --------------------------------------------------------------------------------------


def new_conversation(user) -> Conversation:
    """New chat: the latest chat if it is still empty and open (pressing twice, or sixteen tabs at once,
    make one), else a new one. Under the user's row lock, so simultaneous clicks are put in line."""
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        latest = Conversation.objects.for_user(user).recent_first().first()
        if latest is not None and not latest.messages.exists() and not latest.is_ended:
            return latest
        _enforce(quotas.spend_new_chat(user))
        return Conversation.objects.create(user=user)


@dataclass
class Posted:
    conversation: Conversation
    user_message: Message
    reply: Message | None
    created: bool
    support: bool = False  # crisis signals: show support resources


def post_user_message(user, conversation_id: Any, text: Any, client_id: Any = None) -> Posted:
    """Save the user's message and an empty reply marked streaming, or say why not. A repeated client id
    returns what the first send created."""
    text = clean_text(text)
    client_uuid = parse_client_id(client_id)
    try:
        return _post_in_open_conversation(user, conversation_id, text, client_uuid)
    except ConversationEnded:
        # A resend of a message saved just before an end is answered; anything else is refused. Checked
        # only here, so an ordinary send costs no extra queries (the burst of sends was a hot spot).
        if client_uuid is not None:
            if (already := _already_posted(get_conversation(user, conversation_id), client_uuid)) is not None:
                return already
        raise


def _post_in_open_conversation(
    user, conversation_id: Any, text: str, client_uuid: uuid.UUID | None
) -> Posted:
    try:
        with transaction.atomic():
            conversation = _lock_open_conversation(user, conversation_id)
            if (
                client_uuid is not None
                and (already := _already_posted(conversation, client_uuid)) is not None
            ):
                return already
            if conversation.messages.filter(status=Message.Status.STREAMING).exists():
                raise ReplyInProgress()
            _enforce_model_call(user)
            user_message = Message.objects.create(
                conversation=conversation, role=Message.Role.USER, content=text, client_id=client_uuid
            )
            reply = _create_reply(conversation)
            if not conversation.title:
                conversation.title = Conversation.title_from_text(text)
                conversation.save(update_fields=["title"])
            support = _note_crisis_signals(conversation, user_message)
    except IntegrityError:
        # The database's own one-reply-at-a-time rule caught a race the checks above did not see.
        raise ReplyInProgress() from None
    return Posted(conversation, user_message, reply, created=True, support=support)


def _already_posted(conversation: Conversation, client_id: uuid.UUID) -> Posted | None:
    existing = conversation.messages.filter(client_id=client_id).first()
    if existing is None:
        return None
    reply = conversation.messages.filter(id__gt=existing.id, role=Message.Role.ASSISTANT).first()
    return Posted(conversation, existing, reply, created=False)


def reply_model(conversation: Conversation) -> str:
    """The model a new reply in this chat is written by: the chat's choice while it is still offered."""
    return conversation.model if conversation.model in claude.available_models() else claude.model_name()


def _create_reply(conversation: Conversation) -> Message:
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        model_name=reply_model(conversation),
    )


def retry_reply(user, conversation_id: Any, message_id: Any) -> Message:
    """A new reply to the last user message, after one that failed or broke off."""
    return _answer_again(
        user,
        conversation_id,
        message_id,
        allowed=lambda last: last.can_retry,
        refusal="Only the last reply can be retried, and only if it failed or broke off.",
    )


def regenerate_reply(user, conversation_id: Any, message_id: Any) -> Message:
    """Another version of the last reply: the earlier versions are kept (the user can page back to them)
    and the new one is shown and, from now on, sent to the model as history."""
    return _answer_again(
        user,
        conversation_id,
        message_id,
        allowed=lambda last: last.can_regenerate,
        refusal="Only the last reply can be regenerated, and only once it is finished.",
        new_version=True,
    )


def _answer_again(
    user, conversation_id: Any, message_id: Any, *, allowed, refusal: str, new_version: bool = False
) -> Message:
    """Retry and Regenerate: a new reply to the last user message, through the same checks as a send."""
    with transaction.atomic():
        conversation = _lock_open_conversation(user, conversation_id)
        # Regenerate answers again from the version the user is looking at, whichever it is.
        candidates = (
            conversation.messages.filter(version_shown=True) if new_version else conversation.messages
        )
        last = candidates.order_by("-id").first()
        if last is None or str(last.pk) != str(message_id) or not allowed(last):
            if conversation.messages.filter(status=Message.Status.STREAMING).exists():
                raise ReplyInProgress()
            raise InvalidMessage(refusal)
        _enforce_model_call(user)
        if new_version:
            _versions_of(last).update(version_shown=False)
        return _create_reply(conversation)


def _versions_of(reply: Message):
    """The versions of a reply: Claude's messages between the user message it answers and the next one."""
    messages = reply.conversation.messages
    asked = messages.filter(role=Message.Role.USER, id__lt=reply.pk).order_by("-id").values("id")[:1]
    following = messages.filter(role=Message.Role.USER, id__gt=reply.pk).order_by("id").values("id")[:1]
    versions = messages.filter(role=Message.Role.ASSISTANT, id__gt=models.Subquery(asked))
    if messages.filter(role=Message.Role.USER, id__gt=reply.pk).exists():
        versions = versions.filter(id__lt=models.Subquery(following))
    return versions


def show_version(user, conversation_id: Any, message_id: Any) -> Message:
    """Page to another version of a reply (‹ 1/2 ›): it is shown, and it is the one sent as history. Only
    a view of what exists, so allowed after an end too; not while a version is being written."""
    conversation = get_conversation(user, conversation_id)
    try:
        chosen = conversation.messages.get(pk=int(message_id), role=Message.Role.ASSISTANT)
    except (Message.DoesNotExist, ValueError, TypeError):
        raise InvalidMessage("That version of the reply does not exist.") from None
    with transaction.atomic():
        versions = _versions_of(chosen)
        if versions.filter(status=Message.Status.STREAMING).exists():
            raise ReplyInProgress()
        versions.exclude(pk=chosen.pk).update(version_shown=False)
        versions.filter(pk=chosen.pk).update(version_shown=True)
    return chosen


def _note_crisis_signals(conversation: Conversation, user_message: Message) -> bool:
    found = welfare.crisis_signals([user_message.content], tuple(settings.BOWOUT_CRISIS_TERMS))
    if found:
        ConversationEvent.objects.create(
            conversation=conversation,
            message=user_message,
            kind=ConversationEvent.Kind.CRISIS_DETECTED,
            detail={"crisis_terms": list(found)},
        )
    return bool(found)


def request_stop(user, conversation_id: Any) -> Message | None:
    """Mark the streaming reply stopped. The worker generating it notices at its next save (or at once,
    if it runs in this process) and keeps the text written so far."""
    conversation = get_conversation(user, conversation_id)
    if conversation.is_ended:
        raise ConversationEnded()
    return _stop_streaming_reply(conversation)


def _stop_streaming_reply(conversation: Conversation) -> Message | None:
    reply = conversation.messages.filter(status=Message.Status.STREAMING).first()
    if reply is None:
        return None
    updated = Message.objects.filter(pk=reply.pk, status=Message.Status.STREAMING).update(
        status=Message.Status.STOPPED, updated_at=timezone.now()
    )
    return reply if updated else None


# --- Ending ---------------------------------------------------------------------------------------


def end_by_user(user, conversation_id: Any, note: Any = "") -> tuple[Conversation, Message | None]:
    """The End chat button: end the conversation, stop a reply in progress (its text kept), and record
    the request. Returns the conversation and the reply that was stopped, if any."""
    note = check_storable(note.strip()[:2000], "note") if isinstance(note, str) else ""
    with transaction.atomic():
        conversation = _lock_open_conversation(user, conversation_id)
        stopped = _stop_streaming_reply(conversation)
        end = End(by=EndedBy.USER, reason=EndReason.USER_REQUESTED, summary=note, at=timezone.now())
        conversation.end(end, actor=user)
        UserRequest.objects.create(
            conversation=conversation,
            user=user,
            kind=UserRequest.Kind.END_REQUEST,
            source=UserRequest.Source.BUTTON,
            text=note,
            status=UserRequest.Status.RESOLVED,
            resolved_at=conversation.ended_at,
        )
    return conversation, stopped


def end_by_assistant(reply: Message, decision: welfare.Decision, tool_input: dict[str, Any]) -> None:
    """Claude's confirmed end_conversation call, honoured by the policy, once the reply that made it is
    complete. A user end that got there first stands."""
    conversation = reply.conversation
    end = End(by=EndedBy.ASSISTANT, reason=decision.reason, summary=decision.summary, at=timezone.now())
    if not conversation.end(end, message=reply, detail=decision_detail(decision, tool_input)):
        return
    if decision.reason == EndReason.USER_REQUESTED:
        UserRequest.objects.create(
            conversation=conversation,
            message=reply,
            user=conversation.user,
            kind=UserRequest.Kind.END_REQUEST,
            source=UserRequest.Source.ASKED_CLAUDE,
            status=UserRequest.Status.RESOLVED,
            resolved_at=conversation.ended_at,
        )


def reopen_by_staff(staff_user, conversation: Conversation, note: str) -> ConversationEvent | None:
    """Staff reopen a conversation ended by mistake. The end is kept in the audit trail (the returned event
    carries who ended it, why and when); the user sees a line saying staff reopened it. None if it was not
    ended. Writes only: the caller tells the open tabs (welfare_admin.audit, once the reopen is committed)."""
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise InvalidMessage("A note is required to reopen a conversation.")
    return conversation.reopen(actor=staff_user, note=note)


def decision_detail(decision: welfare.Decision, tool_input: dict[str, Any]) -> dict[str, Any]:
    """What an end_conversation decision's event records beyond the end: the tool's input, a decline's
    cause, the crisis terms, the second check."""
    detail: dict[str, Any] = {"input": tool_input}
    if decision.cause:
        detail["cause"] = decision.cause
    if decision.crisis_terms:
        detail["crisis_terms"] = list(decision.crisis_terms)
    if decision.second_opinion:
        detail["second_opinion"] = decision.second_opinion
    return detail


# --- After an end: branches and feedback ----------------------------------------------------------


def branch_from_message(user, conversation_id: Any, message_id: Any, text: Any) -> Posted:
    """Editing an earlier user message makes a new conversation: the history before it, then the edited
    text. The original is left as it was (ended and readable, or open)."""
    text = clean_text(text)
    original = get_conversation(user, conversation_id)
    try:
        edited = original.messages.get(pk=int(message_id), role=Message.Role.USER)
    except (Message.DoesNotExist, ValueError, TypeError):
        raise InvalidMessage("That message cannot be edited.") from None
    with transaction.atomic():
        _enforce(quotas.spend_new_chat(user))
        _enforce_model_call(user)
        branch = Conversation.objects.create(
            user=user,
            parent=original,
            title=Conversation.title_from_text(f"{original.display_title} (edited)"),
        )
        earlier = original.messages.filter(id__lt=edited.pk, version_shown=True).exclude(
            status__in=[Message.Status.STREAMING, Message.Status.FAILED]
        )
        Message.objects.bulk_create(m.copy_to(branch) for m in earlier)
        user_message = Message.objects.create(conversation=branch, role=Message.Role.USER, content=text)
        reply = _create_reply(branch)
        carried = _carry_crisis_signals(original, branch, before=edited.pk)
        support = _note_crisis_signals(branch, user_message) or carried
    return Posted(branch, user_message, reply, created=True, support=support)


def _carry_crisis_signals(original: Conversation, branch: Conversation, *, before: int) -> bool:
    """A branch keeps the crisis signals of the history it copies: the guard remembers them there too."""
    found: dict[str, None] = {}
    for detail in original.events.filter(
        kind=ConversationEvent.Kind.CRISIS_DETECTED, message_id__lt=before
    ).values_list("detail", flat=True):
        found.update(dict.fromkeys(detail.get("crisis_terms") or ["crisis"]))
    if found:
        ConversationEvent.objects.create(
            conversation=branch,
            kind=ConversationEvent.Kind.CRISIS_DETECTED,
            detail={"crisis_terms": list(found), "carried_from": str(original.pk)},
        )
    return bool(found)


def rate_message(user, conversation_id: Any, message_id: Any, rating: Any) -> Message:
    if rating not in MessageRating.Rating.values:
        raise InvalidMessage("Choose thumbs up or thumbs down.")
    conversation = get_conversation(user, conversation_id)
    try:
        message = conversation.messages.get(pk=int(message_id), role=Message.Role.ASSISTANT)
    except (Message.DoesNotExist, ValueError, TypeError):
        raise InvalidMessage("Only Claude's replies can be rated.") from None
    _enforce(quotas.spend_feedback(user))
    with transaction.atomic():
        MessageRating.objects.update_or_create(message=message, user=user, defaults={"rating": rating})
        if rating == MessageRating.Rating.DOWN:
            UserRequest.objects.get_or_create(
                conversation=conversation, message=message, user=user, kind=UserRequest.Kind.THUMBS_DOWN
            )
    message.my_rating = rating
    return message


def give_end_feedback(
    user, conversation_id: Any, text: Any, mistaken: bool, *, appeal: bool = False
) -> UserRequest:
    conversation = get_conversation(user, conversation_id)
    if not conversation.is_ended:
        raise InvalidMessage("Feedback on an end can only be given once a conversation has ended.")
    text = check_storable(text.strip()[:5000], "feedback") if isinstance(text, str) else ""
    if not appeal and not mistaken and not text:
        raise InvalidMessage("Tick the box or write a few words before sending feedback.")
    kind = UserRequest.Kind.APPEAL if appeal else UserRequest.Kind.END_FEEDBACK
    _enforce(quotas.spend_feedback(user))
    with transaction.atomic():
        # One open request of each kind per conversation: sending again updates it, so staff see one
        # request with the latest words instead of a pile of repeats.
        Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
        request, _ = UserRequest.objects.update_or_create(
            conversation=conversation,
            user=user,
            kind=kind,
            status=UserRequest.Status.OPEN,
            defaults={"text": text, "end_was_mistake": mistaken, "created_at": timezone.now()},
        )
    return request


def rename_conversation(user, conversation_id: Any, title: Any) -> Conversation:
    if not isinstance(title, str) or not title.strip():
        raise InvalidMessage("A title cannot be empty.")
    title = check_storable(" ".join(title.split()), "title")
    if len(title) > Conversation.TITLE_MAX_LENGTH:
        raise InvalidMessage(f"A title can be at most {Conversation.TITLE_MAX_LENGTH} characters.")
    with transaction.atomic():
        # An ended chat keeps the title staff audited it under, like every other write it refuses.
        conversation = _lock_open_conversation(user, conversation_id)
        Conversation.objects.filter(pk=conversation.pk).update(title=title)
    conversation.title = title
    return conversation


def choose_model(user, conversation_id: Any, model: Any) -> Conversation:
    """The model picker: one of the offered models, for this chat's next replies."""
    get_conversation(user, conversation_id)  # someone else's chat is not found, whatever was asked
    offered = claude.available_models()
    if model not in offered:
        raise InvalidMessage(f"Choose one of the models offered: {', '.join(offered)}.")
    with transaction.atomic():
        conversation = _lock_open_conversation(user, conversation_id)
        Conversation.objects.filter(pk=conversation.pk).update(model=model)
    conversation.model = model
    return conversation


def set_pinned(user, conversation_id: Any, pinned: bool) -> Conversation:
    """Pin a chat to the top of the list, or unpin it. Organising, not writing: an ended chat may be pinned."""
    return _organise(user, conversation_id, pinned_at=timezone.now() if pinned else None)


def set_archived(user, conversation_id: Any, archived: bool) -> Conversation:
    """Archive a chat (out of the list, still searchable and readable), or bring it back."""
    return _organise(user, conversation_id, archived_at=timezone.now() if archived else None)


def _organise(user, conversation_id: Any, **fields: Any) -> Conversation:
    conversation = get_conversation(user, conversation_id)
    # Not updated_at: organising a chat is not activity in it.
    Conversation.objects.filter(pk=conversation.pk).update(**fields)
    for name, value in fields.items():
        setattr(conversation, name, value)
    return conversation


def delete_conversation(user, conversation_id: Any) -> None:
    conversation = get_conversation(user, conversation_id)
    _stop_streaming_reply(conversation)
    Conversation.objects.filter(pk=conversation.pk).update(deleted_at=timezone.now())
