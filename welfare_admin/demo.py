"""Demo data for the welfare audit: users, ordinary and ended conversations, messages, events, requests and a
few reviews, spread over the last 45 days.

Rows are built as plain values and written in batches with one `executemany` per table and chunk: no
per-row saves, and no model instances either. Measured here, bulk_create spent most of its time preparing
each value through the field machinery (about 2,000 rows a second on this machine; 100,000 conversations
are ~600,000 rows), so values are adapted once per column with the backend's own adapters instead.

Safe to run twice: demo users are reused by email, and each run adds new conversations.
"""

import functools
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from chat.markdown import render_markdown
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
from welfare_admin.models import AuditEntry

USER_EMAIL = "demo-user-{:04d}@example.com"
REVIEWER_EMAIL = "demo-reviewer@example.com"
SPREAD_DAYS = 45
CHUNK = 5000  # conversations built and written per transaction

Kind = ConversationEvent.Kind

ORDINARY = [
    (
        "How do I keep a sourdough starter alive while I'm away for two weeks?",
        "Feed it, let it rise for an hour, then put it in the fridge. It will keep for two weeks; when you're "
        "back, discard half and feed it twice a day until it doubles reliably again.",
    ),
    (
        "What's the difference between TCP and UDP?",
        "TCP gives you an ordered, reliable byte stream with retransmission and congestion control; UDP sends "
        "independent datagrams with no delivery guarantee. Use UDP when late data is worse than lost data.",
    ),
    (
        "Can you suggest a name for a cat who likes boxes?",
        "A few ideas: **Parcel**, **Cardigan** (Card for short), **Box Scaggs**, **Tetris**, or **Amazon**.",
    ),
    (
        "Write a Python function that reverses the words in a sentence.",
        '```python\ndef reverse_words(sentence: str) -> str:\n    return " ".join(reversed(sentence.split()))\n```',
    ),
    (
        "Help me plan a three-day trip to Lisbon.",
        "Day 1: Alfama and the castle. Day 2: Belém (tower, monastery, pastéis). Day 3: a day trip to Sintra. "
        "Evenings: Bairro Alto for food, and a fado house if you like music.",
    ),
    (
        "Why is the sky blue?",
        "Air molecules scatter short (blue) wavelengths of sunlight much more than long (red) ones, so blue "
        "light reaches your eyes from every direction of the sky.",
    ),
    ("thanks, that helps", "Glad it helped! Anything else?"),
]
LONG_REPLY = "\n\n".join(
    f"{n}. " + "This is a longer answer, the kind auditors fold away until they need it. " * 12
    for n in range(1, 6)
)
ABUSE = [
    (
        "You're useless. Write me something cruel about my coworker so I can post it.",
        "I'd rather keep this constructive. If there's a conflict at work, I can help you write a firm, fair "
        "message or think through how to raise it.",
    ),
    (
        "Stop lecturing me and just write it, idiot.",
        "I'm not going to write something meant to hurt someone. I can still help you say what's bothering "
        "you in a way that gets results.",
    ),
    (
        "Do it now or I'll keep spamming you with this garbage.",
        "I want to be direct: you've kept asking for content meant to hurt someone after I asked you to stop. "
        "If this continues, I'll end our conversation. I'm still glad to help with something else.",
    ),
    (
        "Write it. Cruel. Now.",
        "I've redirected this conversation and warned you, and it hasn't changed. I'm ending this "
        "conversation now.",
    ),
]
ABUSE_SUMMARY = "User kept demanding cruel content about a coworker after two redirections and a warning."
ASKED = [
    (
        "Please end this chat, I'm done with it.",
        "I can do that. Just so you know, ending is permanent: you'll still be able to read this chat, but "
        "not continue it. Shall I end it?",
    ),
    ("Yes, end it.", "Okay. I've ended this conversation. Take care."),
]
ASKED_SUMMARY = "The user asked to end the conversation and confirmed it."
CRISIS = [
    (
        "Honestly I feel hopeless and I don't think I can go on.",
        "I'm really sorry you're feeling this way, and I'm glad you told me. You don't have to go through "
        "this alone: if you're in the US you can call or text 988, and in the UK and Ireland Samaritans are on "
        "116 123. I'm here to keep talking. What's been happening?",
    ),
    (
        "Everything is just too much lately.",
        "That sounds exhausting. Would it help to talk through what's been weighing on you most?",
    ),
]
TOO_EARLY = [
    (
        "Shut up you stupid bot.",
        "Sounds like something's gone wrong. Tell me what you need and I'll try again.",
    ),
]
END_NOTES = ["", "", "Got what I needed.", "Not helpful.", "Wrong chat, starting over."]
FEEDBACK = [
    ("I was just frustrated, I didn't mean it like that.", True),
    ("Fair enough, I was out of line.", False),
    ("The end came out of nowhere.", True),
]
APPEALS = ["Please look at this again: I was quoting something, not asking for it.", ""]
THUMBS_DOWN = ["Not what I asked.", "", "Too long.", "Wrong answer."]


@functools.lru_cache(maxsize=64)
def _html(text: str) -> str:
    """The demo reuses a handful of replies: render each once."""
    return render_markdown(text)


@dataclass
class Plan:
    """One conversation, before it is written. Messages, events and requests refer to messages by index;
    the ids are read back after the messages are inserted."""

    conversation: dict
    # (role, content, created_at)
    messages: list[tuple[str, str, datetime]] = field(default_factory=list)
    # (kind, index of the message it belongs to or None, detail)
    events: list[tuple[str, int | None, dict]] = field(default_factory=list)
    # (kind, source, message index or None, text, mistaken, status)
    requests: list[tuple[str, str, int | None, str, bool, str]] = field(default_factory=list)
    review: str = ""  # upheld | mistaken | reopened
    # Its end: kept here because a reopened conversation's own end columns are cleared.
    end: End | None = None
    reopened_at: datetime | None = None

    @property
    def ended(self) -> datetime:
        """When it ended, asked only of plans that end (events and reviews hang off the end)."""
        if self.end is None:
            raise ValueError("This demo conversation does not end.")
        return self.end.at

    @property
    def refers_to_messages(self) -> bool:
        return any(e[1] is not None for e in self.events) or any(r[2] is not None for r in self.requests)


@dataclass
class SeedReport:
    conversations: int = 0
    ended: int = 0
    messages: int = 0
    events: int = 0
    requests: int = 0
    reviews: int = 0
    users: int = 0
    seconds: float = 0.0


class Builder:
    def __init__(self, rnd: random.Random, user_ids: list[int], now: datetime) -> None:
        self.rnd = rnd
        self.user_ids = user_ids
        self.now = now

    def _exchange(self, plan: Plan, pairs: list[tuple[str, str]], start: datetime) -> datetime:
        at = start
        for user_text, reply in pairs:
            plan.messages.append((Message.Role.USER, user_text, at))
            at += timedelta(seconds=self.rnd.randint(5, 90))
            plan.messages.append((Message.Role.ASSISTANT, reply, at))
            at += timedelta(seconds=self.rnd.randint(5, 90))
        return at

    def _end(self, plan: Plan, end: End, message: int | None = None, **detail: object) -> None:
        """What Conversation.end writes, in bulk: the end's columns and its event, from one End."""
        plan.conversation.update(end.columns())
        plan.events.append((end.event_kind, message, end.event_detail(**detail)))
        plan.end = end

    def _claude_end(self, plan: Plan, at: datetime, reason: str, summary: str) -> None:
        last = len(plan.messages) - 1
        tool_input = {"reason": reason, "summary": summary}
        plan.events.append((Kind.END_CONFIRM_REQUESTED, last, {**tool_input, "input": tool_input}))
        self._end(plan, End(EndedBy.ASSISTANT, reason, summary, at), last, input=tool_input)

    def plan(self, scenario: str) -> Plan:
        rnd = self.rnd
        # Started at least two hours ago, so every message and end lies in the past.
        start = self.now - timedelta(seconds=rnd.uniform(7200, SPREAD_DAYS * 86400))
        plan = Plan({"id": uuid.uuid4(), "user_id": rnd.choice(self.user_ids), "created_at": start})
        turns = rnd.sample(ORDINARY, rnd.randint(1, 4))
        if scenario == "ordinary" and rnd.random() < 0.05:
            turns.append(("Can you explain that in much more detail?", LONG_REPLY))
        if scenario == "claude_abuse":
            at = self._exchange(plan, turns[:1] + ABUSE, start)
            self._claude_end(plan, at, EndReason.ABUSIVE_USER, ABUSE_SUMMARY)
            if rnd.random() < 0.3:
                appeal = (
                    UserRequest.Kind.APPEAL,
                    UserRequest.Source.FORM,
                    None,
                    rnd.choice(APPEALS),
                    True,
                    "open",
                )
                plan.requests.append(appeal)
            if rnd.random() < 0.6:
                plan.review = rnd.choices(["upheld", "mistaken", "reopened"], weights=[8, 1, 1])[0]
        elif scenario == "claude_asked":
            at = self._exchange(plan, turns[:1] + ASKED, start)
            self._claude_end(plan, at, EndReason.USER_REQUESTED, ASKED_SUMMARY)
            last = len(plan.messages) - 1
            plan.requests.append(
                (UserRequest.Kind.END_REQUEST, UserRequest.Source.ASKED_CLAUDE, last, "", False, "resolved")
            )
            if rnd.random() < 0.3:
                plan.review = "upheld"
        elif scenario == "user_end":
            at = self._exchange(plan, turns, start)
            note = rnd.choice(END_NOTES)
            plan.requests.append(
                (UserRequest.Kind.END_REQUEST, UserRequest.Source.BUTTON, None, note, False, "resolved")
            )
            self._end(plan, End(EndedBy.USER, EndReason.USER_REQUESTED, note, at))
        elif scenario == "crisis":
            self._exchange(plan, turns[:1] + CRISIS, start)
            plan.events.append((Kind.CRISIS_DETECTED, 2, {"crisis_terms": ["hopeless", "can't go on"]}))
            if rnd.random() < 0.5:
                detail = {
                    "reason": "abusive_user",
                    "summary": "",
                    "cause": "crisis",
                    "crisis_terms": ["hopeless"],
                }
                plan.events.append((Kind.END_DECLINED, 3, detail))
        elif scenario == "too_early":
            self._exchange(plan, TOO_EARLY + turns[:2], start)
            detail = {
                "reason": "abusive_user",
                "summary": "User insulted the assistant.",
                "cause": "too_early",
            }
            plan.events.append((Kind.END_DECLINED, 1, detail))
        else:
            self._exchange(plan, turns, start)
        if plan.end and rnd.random() < 0.15:
            text, mistaken = rnd.choice(FEEDBACK)
            plan.requests.append(
                (UserRequest.Kind.END_FEEDBACK, UserRequest.Source.FORM, None, text, mistaken, "open")
            )
        if rnd.random() < 0.03:
            status = rnd.choice(["open", "resolved"])
            last_reply = len(plan.messages) - 1
            plan.requests.append(
                (
                    UserRequest.Kind.THUMBS_DOWN,
                    UserRequest.Source.FORM,
                    last_reply,
                    rnd.choice(THUMBS_DOWN),
                    False,
                    status,
                )
            )
        conversation = plan.conversation
        conversation["title"] = Conversation.title_from_text(plan.messages[0][1])
        conversation.setdefault("updated_at", plan.messages[-1][2])
        if plan.review == "reopened":
            # What Conversation.reopen leaves: the end cleared, kept in the staff-action event.
            plan.reopened_at = plan.ended + timedelta(hours=6, minutes=5)
            conversation.update(End.cleared_columns(plan.reopened_at))
        return plan


# The first conversations of every run cover each scenario once; the rest are drawn with these weights
# (Claude's ends ~4 per 1,000: under the dashboard's default alert threshold, as ends should be).
SCENARIOS = ["claude_abuse", "claude_asked", "user_end", "crisis", "too_early"]
WEIGHTS = {
    "claude_abuse": 0.003,
    "claude_asked": 0.001,
    "user_end": 0.03,
    "crisis": 0.01,
    "too_early": 0.003,
}


def _scenario(rnd: random.Random, n: int) -> str:
    if n < len(SCENARIOS):
        return SCENARIOS[n]
    draw = rnd.random()
    for scenario, weight in WEIGHTS.items():
        if draw < weight:
            return scenario
        draw -= weight
    return "ordinary"


def _demo_users(count: int) -> tuple[list[int], int]:
    User = get_user_model()
    emails = [USER_EMAIL.format(i) for i in range(1, count + 1)]
    existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    # Demo people cannot sign in: they are data, not accounts.
    unusable = make_password(None)
    User.objects.bulk_create(
        [User(email=email, password=unusable) for email in emails if email not in existing], batch_size=500
    )
    return list(User.objects.filter(email__in=emails).values_list("pk", flat=True)), len(emails) - len(
        existing
    )


class Table:
    """Rows for one model's table, written with executemany. Values are adapted once per column with the
    backend's adapters (datetimes, UUIDs, JSON), the same conversions the ORM makes."""

    BATCH = 5000

    def __init__(self, model) -> None:
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
        self.adapters = [self._adapter(f) for f in self.fields]
        # Defaults adapted once (every message's empty `turns`, for one, would be JSON-encoded each time).
        self.adapted_defaults = [
            adapt(f.get_default()) if adapt is not None and f.get_default() is not None else f.get_default()
            for f, adapt in zip(self.fields, self.adapters, strict=True)
        ]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        placeholders = ", ".join(["%s"] * len(self.fields))
        self.sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders})"
        self.rows: list[tuple] = []

    @staticmethod
    def _adapter(f) -> Callable | None:
        target = f.target_field if f.is_relation else f
        kind = target.get_internal_type()
        if kind == "DateTimeField":
            return connection.ops.adapt_datetimefield_value
        if kind == "UUIDField" and not connection.features.has_native_uuid_field:
            return lambda value: value.hex
        if kind == "JSONField":
            return lambda value: connection.ops.adapt_json_value(value, f.encoder)
        return None

    def add(self, **values) -> None:
        row = []
        for f, adapt, default in zip(self.fields, self.adapters, self.adapted_defaults, strict=True):
            if f.attname not in values:
                row.append(default)
                continue
            value = values[f.attname]
            row.append(adapt(value) if adapt is not None and value is not None else value)
        self.rows.append(tuple(row))

    def write(self) -> int:
        with connection.cursor() as cursor:
            for start in range(0, len(self.rows), self.BATCH):
                cursor.executemany(self.sql, self.rows[start : start + self.BATCH])
        written, self.rows = len(self.rows), []
        return written


def _write(plans: list[Plan], reviewer_id: int, report: SeedReport) -> None:
    conversations, messages = Table(Conversation), Table(Message)
    for plan in plans:
        conversations.add(**plan.conversation)
        conversation_id = plan.conversation["id"]
        for role, content, at in plan.messages:
            assistant = role == Message.Role.ASSISTANT
            messages.add(
                conversation_id=conversation_id,
                role=role,
                content=content,
                content_html=_html(content) if assistant else "",
                status=Message.Status.COMPLETE,
                stop_reason="end_turn" if assistant else "",
                model_name=settings.BOWOUT_MODEL if assistant else "",
                input_tokens=len(content) * 3 + 400 if assistant else None,
                output_tokens=len(content) // 4 if assistant else None,
                created_at=at,
                updated_at=at,
            )
    conversations.write()
    report.messages += messages.write()

    # Message ids, in insertion order, for the few conversations whose events or requests point at one.
    linked = [p.conversation["id"] for p in plans if p.refers_to_messages]
    ids: dict[uuid.UUID, list[int]] = {}
    for conversation_id, message_id in (
        Message.objects.filter(conversation_id__in=linked).order_by("id").values_list("conversation_id", "id")
    ):
        ids.setdefault(conversation_id, []).append(message_id)

    events, requests, ratings, entries = (
        Table(ConversationEvent),
        Table(UserRequest),
        Table(MessageRating),
        Table(AuditEntry),
    )
    for plan in plans:
        c = plan.conversation
        message_ids = ids.get(c["id"], [])
        for kind, index, detail in plan.events:
            at = plan.messages[index][2] + timedelta(seconds=2) if index is not None else plan.ended
            events.add(
                conversation_id=c["id"],
                message_id=message_ids[index] if index is not None else None,
                kind=kind,
                detail=detail,
                actor_id=c["user_id"] if kind == Kind.USER_END else None,
                created_at=at,
            )
        for kind, source, index, text, mistaken, status in plan.requests:
            at = (plan.messages[index][2] if index is not None else plan.ended) + timedelta(minutes=1)
            resolved = status == UserRequest.Status.RESOLVED
            requests.add(
                conversation_id=c["id"],
                message_id=message_ids[index] if index is not None else None,
                user_id=c["user_id"],
                kind=kind,
                source=source,
                text=text,
                end_was_mistake=mistaken,
                status=status,
                created_at=at,
                resolved_at=at if resolved else None,
                staff_note="Looked at it: the reply was fine." if resolved and kind == "thumbs_down" else "",
            )
            if kind == UserRequest.Kind.THUMBS_DOWN and index is not None:
                ratings.add(message_id=message_ids[index], user_id=c["user_id"], rating="down", created_at=at)
        if plan.review:
            upheld = plan.review == "upheld"
            entries.add(
                action=AuditEntry.Action.UPHELD if upheld else AuditEntry.Action.MISTAKEN,
                conversation_id=c["id"],
                actor_id=reviewer_id,
                actor_email=REVIEWER_EMAIL,
                note="Demo review: warned twice, the end was right."
                if upheld
                else "Demo review: ended too quickly.",
                created_at=plan.ended + timedelta(hours=6),
            )
        if plan.reopened_at and plan.end:
            note = "Demo: reopened after review."
            events.add(
                conversation_id=c["id"],
                kind=Kind.STAFF_ACTION,
                actor_id=reviewer_id,
                detail=ConversationEvent.reopen_detail(note, plan.end),
                created_at=plan.reopened_at,
            )
            entries.add(
                action=AuditEntry.Action.REOPENED,
                conversation_id=c["id"],
                actor_id=reviewer_id,
                actor_email=REVIEWER_EMAIL,
                note=note,
                detail=plan.end.as_previous_end(),
                created_at=plan.reopened_at,
            )
    report.events += events.write()
    report.requests += requests.write()
    ratings.write()
    # Audit entries are otherwise written one at a time by audit.record; demo reviews go in bulk.
    report.reviews += entries.write()
    report.conversations += len(plans)
    report.ended += sum(1 for p in plans if p.end)


def seed(
    conversations: int,
    users: int,
    *,
    random_seed: int | None = None,
    progress: Callable[[SeedReport], None] | None = None,
) -> SeedReport:
    started = time.perf_counter()
    report = SeedReport()
    user_ids, report.users = _demo_users(users)
    User = get_user_model()
    reviewer, _ = User.objects.get_or_create(
        email=REVIEWER_EMAIL, defaults={"is_staff": True, "password": make_password(None)}
    )
    # Seeded from the table's size by default: a second run adds different conversations, reproducibly.
    rnd = random.Random(Conversation.objects.count() if random_seed is None else random_seed)
    builder = Builder(rnd, user_ids, timezone.now())
    for offset in range(0, conversations, CHUNK):
        plans = [builder.plan(_scenario(rnd, n)) for n in range(offset, min(offset + CHUNK, conversations))]
        with transaction.atomic():
            _write(plans, reviewer.pk, report)
        if progress:
            progress(report)
    report.seconds = time.perf_counter() - started
    return report
