"""The welfare dashboard's numbers for the last 30 days. Everything is counted by the database, grouped by
day: eight queries, whatever the number of conversations.

Days are UTC days (Bowout runs with TIME_ZONE = "UTC"), taken with Cast(..., DateField()): SQLite's
`date()` and PostgreSQL's `::date` in the database's own code. TruncDate would convert to the current time
zone, which on SQLite is a Python function called for every row: measured at 100,000 conversations, the
"started per day" count took 350–1,300 ms with TruncDate and 30 ms with Cast and COUNT(*) (which SQLite
answers from the created_at index alone)."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, DateField, OuterRef, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Substr
from django.utils import timezone

from chat.models import Conversation, ConversationEvent, End, EndedBy, EndReason, UserRequest
from welfare_admin.models import FEEDBACK_KINDS, REVIEW_ACTIONS, AuditEntry
from welfare_admin.transcript import DECLINE_CAUSES

WINDOW_DAYS = 30

# The stacks of the "ended per day" chart: who ended, and for Claude, why.
END_SERIES = [
    ("assistant-abusive_user", "Claude: abusive or harmful user"),
    ("assistant-user_requested", "Claude: the user asked"),
    ("user", "The user (End chat)"),
]
_SERIES_QUERY = {
    "assistant-abusive_user": "ended_by=assistant&reason=abusive_user",
    "assistant-user_requested": "ended_by=assistant&reason=user_requested",
    "user": "ended_by=user",
}


def end_series_key(ended_by: str, end_reason: str) -> str:
    if ended_by == EndedBy.ASSISTANT:
        return f"assistant-{end_reason or EndReason.ABUSIVE_USER}"
    return ended_by or "user"


@dataclass
class Counted:
    label: str
    count: int
    key: str = ""
    # The changelist query string that lists what was counted, when there is one.
    query: str = ""


@dataclass
class Stats:
    first_day: date
    last_day: date
    days: list[date]
    started: list[int]
    ended: dict[str, list[int]]
    started_total: int = 0
    ends_total: int = 0
    ends_by_series: list[Counted] = field(default_factory=list)
    claude_ends: int = 0
    claude_rate_per_1000: float = 0.0
    all_rate_per_1000: float = 0.0
    alert_threshold_per_1000: float = 0.0
    alert: bool = False
    declined: list[Counted] = field(default_factory=list)
    declined_total: int = 0
    crisis_detections: int = 0
    open_requests: list[Counted] = field(default_factory=list)
    open_requests_total: int = 0
    reviews: list[Counted] = field(default_factory=list)
    mistaken_ends: int = 0
    users_say_mistaken: int = 0
    recent_mistakes: list[AuditEntry] = field(default_factory=list)


def _per_1000(count: int, total: int) -> float:
    return round(count * 1000 / total, 2) if total else 0.0


@dataclass(frozen=True)
class Window:
    """The dashboard's days: the last WINDOW_DAYS UTC days up to `today`."""

    days: list[date]

    @classmethod
    def ending(cls, today: date) -> "Window":
        first_day = today - timedelta(days=WINDOW_DAYS - 1)
        return cls([first_day + timedelta(days=i) for i in range(WINDOW_DAYS)])

    @property
    def since(self) -> datetime:
        return datetime.combine(self.days[0], time.min, tzinfo=UTC)

    def index(self, day: date) -> int | None:
        offset = (day - self.days[0]).days
        return offset if 0 <= offset < len(self.days) else None


def welfare_stats(today: date | None = None) -> Stats:
    window = Window.ending(today or timezone.now().astimezone(UTC).date())
    stats = Stats(
        first_day=window.days[0],
        last_day=window.days[-1],
        days=window.days,
        started=_started_per_day(window),
        ended={key: [0] * WINDOW_DAYS for key, _ in END_SERIES},
        alert_threshold_per_1000=settings.BOWOUT_END_RATE_ALERT_PER_1000,
    )
    _count_ends(stats, window)
    _count_guard(stats, window.since)
    _count_requests(stats, window.since)
    _count_reviews(stats, window.since)
    return stats


def _started_per_day(window: Window) -> list[int]:
    started = [0] * WINDOW_DAYS
    rows = (
        Conversation.objects.filter(created_at__gte=window.since)
        .annotate(day=Cast("created_at", DateField()))
        .values("day")
        .annotate(n=Count("*"))
        .order_by()
    )
    for row in rows:
        if (i := window.index(row["day"])) is not None:
            started[i] += row["n"]
    return started


def _ends_per_day(window: Window) -> list[tuple[date, str, str, int]]:
    """Every end in the window as (day, by, reason, count): the current ones, and those staff have since
    reopened (chat clears the end on the conversation and keeps the End in the reopen event). A reversed
    end still counts: it happened."""
    current = (
        Conversation.objects.filter(ended_at__gte=window.since)
        .annotate(day=Cast("ended_at", DateField()))
        .values("day", "ended_by", "end_reason")
        .annotate(n=Count("*"))
        .order_by()
    )
    ends = [(row["day"], row["ended_by"], row["end_reason"], row["n"]) for row in current]
    reopened = (
        ConversationEvent.objects.filter(kind=ConversationEvent.Kind.STAFF_ACTION, detail__action="reopen")
        # The date of the stored ISO timestamp, which chat writes in UTC.
        .annotate(
            day=Substr(KT(End.previous_end_lookup("at")), 1, 10),
            by=KT(End.previous_end_lookup("by")),
            why=KT(End.previous_end_lookup("reason")),
        )
        .filter(day__gte=window.days[0].isoformat(), day__lte=window.days[-1].isoformat())
        .values("day", "by", "why")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return ends + [(date.fromisoformat(row["day"]), row["by"], row["why"], row["n"]) for row in reopened]


def _count_ends(stats: Stats, window: Window) -> None:
    totals = {key: 0 for key, _ in END_SERIES}
    for day, ended_by, end_reason, n in _ends_per_day(window):
        key = end_series_key(ended_by, end_reason)
        if (i := window.index(day)) is not None and key in stats.ended:
            stats.ended[key][i] += n
            totals[key] += n
    stats.started_total = sum(stats.started)
    stats.ends_total = sum(totals.values())
    stats.ends_by_series = [Counted(label, totals[key], key, _SERIES_QUERY[key]) for key, label in END_SERIES]
    stats.claude_ends = totals["assistant-abusive_user"] + totals["assistant-user_requested"]
    stats.claude_rate_per_1000 = _per_1000(stats.claude_ends, stats.started_total)
    stats.all_rate_per_1000 = _per_1000(stats.ends_total, stats.started_total)
    stats.alert = stats.claude_rate_per_1000 > stats.alert_threshold_per_1000


def _count_guard(stats: Stats, since: datetime) -> None:
    """Declined end calls by cause, and crisis detections."""
    guard = (
        ConversationEvent.objects.filter(
            kind__in=[ConversationEvent.Kind.END_DECLINED, ConversationEvent.Kind.CRISIS_DETECTED],
            created_at__gte=since,
        )
        .values("kind", cause=KT("detail__cause"))
        .annotate(n=Count("pk"))
        .order_by()
    )
    declined: dict[str, int] = {}
    for guard_row in guard:
        if guard_row["kind"] == ConversationEvent.Kind.CRISIS_DETECTED:
            stats.crisis_detections += guard_row["n"]
        else:
            cause = guard_row["cause"] or "unknown"
            declined[cause] = declined.get(cause, 0) + guard_row["n"]
    stats.declined = [
        Counted(DECLINE_CAUSES.get(cause, cause), n, cause)
        for cause, n in sorted(declined.items(), key=lambda item: -item[1])
    ]
    stats.declined_total = sum(declined.values())


def _count_requests(stats: Stats, since: datetime) -> None:
    open_requests = dict(
        UserRequest.objects.filter(status=UserRequest.Status.OPEN)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    stats.open_requests = [
        Counted(label, open_requests.get(kind, 0), kind, f"status__exact=open&kind__exact={kind}")
        for kind, label in UserRequest.Kind.choices
    ]
    stats.open_requests_total = sum(open_requests.values())
    stats.users_say_mistaken = UserRequest.objects.filter(
        kind__in=FEEDBACK_KINDS, end_was_mistake=True, created_at__gte=since
    ).count()


def _count_reviews(stats: Stats, since: datetime) -> None:
    # Each conversation counts once, by its latest review in the window.
    latest_review = (
        AuditEntry.objects.filter(conversation=OuterRef("conversation"), action__in=REVIEW_ACTIONS)
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    reviews = dict(
        AuditEntry.objects.filter(
            action__in=REVIEW_ACTIONS, created_at__gte=since, pk=Subquery(latest_review)
        )
        .values_list("action")
        .annotate(n=Count("pk"))
        .order_by()
    )
    stats.reviews = [
        Counted(label, reviews.get(action, 0), action, f"review={action}")
        for action, label in [
            (AuditEntry.Action.UPHELD, "Upheld"),
            (AuditEntry.Action.MISTAKEN, "Mistaken"),
            (AuditEntry.Action.REOPENED, "Mistaken and reopened"),
        ]
    ]
    stats.mistaken_ends = reviews.get(AuditEntry.Action.MISTAKEN, 0) + reviews.get(
        AuditEntry.Action.REOPENED, 0
    )
    stats.recent_mistakes = list(
        AuditEntry.objects.filter(action__in=[AuditEntry.Action.MISTAKEN, AuditEntry.Action.REOPENED])
        .select_related("conversation")
        .order_by("-created_at", "-id")[:10]
    )
