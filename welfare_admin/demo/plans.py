"""Demo conversations planned as plain values before they are written: one scenario each (ordinary, Claude
ends for abuse or at the user's request, End chat, crisis, an end declined as too early), with the requests,
reviews and reopens that follow. Ends are `End` values, written as Conversation.end writes them."""

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chat.models import Conversation, ConversationEvent, End, EndedBy, EndReason, Message, UserRequest
from welfare_admin.demo.texts import (
    ABUSE,
    ABUSE_SUMMARY,
    APPEALS,
    ASKED,
    ASKED_SUMMARY,
    CRISIS,
    END_NOTES,
    FEEDBACK,
    LONG_REPLY,
    ORDINARY,
    THUMBS_DOWN,
    TOO_EARLY,
)

SPREAD_DAYS = 45

Kind = ConversationEvent.Kind
Pairs = list[tuple[str, str]]


@dataclass
class Plan:
    """One conversation, before it is written. Messages, events and requests refer to messages by index;
    the ids are read back after the messages are inserted."""

    conversation: dict[str, Any]
    # (role, content, created_at)
    messages: list[tuple[str, str, datetime]] = field(default_factory=list)
    # (kind, index of the message it belongs to or None, detail)
    events: list[tuple[str, int | None, dict[str, Any]]] = field(default_factory=list)
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
        scenarios = {
            "claude_abuse": self._claude_abuse,
            "claude_asked": self._claude_asked,
            "user_end": self._user_end,
            "crisis": self._crisis,
            "too_early": self._too_early,
        }
        scenarios.get(scenario, self._ordinary)(plan, turns, start)
        self._feedback(plan)
        conversation = plan.conversation
        conversation["title"] = Conversation.title_from_text(plan.messages[0][1])
        conversation.setdefault("updated_at", plan.messages[-1][2])
        if plan.review == "reopened":
            # What Conversation.reopen leaves: the end cleared, kept in the staff-action event.
            plan.reopened_at = plan.ended + timedelta(hours=6, minutes=5)
            conversation.update(End.cleared_columns(plan.reopened_at))
        return plan

    def _ordinary(self, plan: Plan, turns: Pairs, start: datetime) -> None:
        self._exchange(plan, turns, start)

    def _claude_abuse(self, plan: Plan, turns: Pairs, start: datetime) -> None:
        rnd = self.rnd
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

    def _claude_asked(self, plan: Plan, turns: Pairs, start: datetime) -> None:
        at = self._exchange(plan, turns[:1] + ASKED, start)
        self._claude_end(plan, at, EndReason.USER_REQUESTED, ASKED_SUMMARY)
        last = len(plan.messages) - 1
        plan.requests.append(
            (UserRequest.Kind.END_REQUEST, UserRequest.Source.ASKED_CLAUDE, last, "", False, "resolved")
        )
        if self.rnd.random() < 0.3:
            plan.review = "upheld"

    def _user_end(self, plan: Plan, turns: Pairs, start: datetime) -> None:
        at = self._exchange(plan, turns, start)
        note = self.rnd.choice(END_NOTES)
        plan.requests.append(
            (UserRequest.Kind.END_REQUEST, UserRequest.Source.BUTTON, None, note, False, "resolved")
        )
        self._end(plan, End(EndedBy.USER, EndReason.USER_REQUESTED, note, at))

    def _crisis(self, plan: Plan, turns: Pairs, start: datetime) -> None:
        self._exchange(plan, turns[:1] + CRISIS, start)
        plan.events.append((Kind.CRISIS_DETECTED, 2, {"crisis_terms": ["hopeless", "can't go on"]}))
        if self.rnd.random() < 0.5:
            detail = {
                "reason": "abusive_user",
                "summary": "",
                "cause": "crisis",
                "crisis_terms": ["hopeless"],
            }
            plan.events.append((Kind.END_DECLINED, 3, detail))

    def _too_early(self, plan: Plan, turns: Pairs, start: datetime) -> None:
        self._exchange(plan, TOO_EARLY + turns[:2], start)
        detail = {"reason": "abusive_user", "summary": "User insulted the assistant.", "cause": "too_early"}
        plan.events.append((Kind.END_DECLINED, 1, detail))

    def _feedback(self, plan: Plan) -> None:
        """Some ends get the user's feedback; a few replies a thumbs-down."""
        rnd = self.rnd
        if plan.end and rnd.random() < 0.15:
            text, mistaken = rnd.choice(FEEDBACK)
            plan.requests.append(
                (UserRequest.Kind.END_FEEDBACK, UserRequest.Source.FORM, None, text, mistaken, "open")
            )
        if rnd.random() < 0.03:
            status = rnd.choice(["open", "resolved"])
            last_reply = len(plan.messages) - 1
            text = rnd.choice(THUMBS_DOWN)
            plan.requests.append(
                (UserRequest.Kind.THUMBS_DOWN, UserRequest.Source.FORM, last_reply, text, False, status)
            )


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


def scenario_for(rnd: random.Random, n: int) -> str:
    if n < len(SCENARIOS):
        return SCENARIOS[n]
    draw = rnd.random()
    for scenario, weight in WEIGHTS.items():
        if draw < weight:
            return scenario
        draw -= weight
    return "ordinary"
