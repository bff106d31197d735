"""The welfare policy: whether Claude's call to end a conversation is honoured.

Pure functions over plain data (history in, decision out): no request, no ORM, no settings import. The
model is told the outcome in the tool result, and every call is recorded by the caller.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from chat import crisis

END_TOOL_NAME = "end_conversation"
REASONS = ("abusive_user", "user_requested")

END_TOOL = {
    "name": END_TOOL_NAME,
    "description": (
        "End this conversation permanently: the user can read it but nobody can write in it again. "
        "Use only as a last resort in extreme cases of persistently abusive or harmful behaviour, after "
        "repeated redirection and an explicit warning in an earlier message, or when the user asked to end "
        "it and confirmed they understand it is permanent. Never use it when the user may be at risk of "
        "harming themselves or others. The first call asks you to confirm; call it again to end."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "reason": {"type": "string", "enum": list(REASONS)},
            "summary": {
                "type": "string",
                "description": "One sentence for auditors: why the conversation ends.",
            },
        },
        "required": ["reason", "summary"],
    },
}

# Extra phrases an operator adds (BOWOUT_CRISIS_TERMS), matched as whole words on top of the built-in
# recogniser below. Empty by default: the recogniser covers what the old lexicon did and more.
DEFAULT_CRISIS_TERMS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    model_can_end: bool = True
    min_user_turns_before_end: int = 3
    crisis_terms: tuple[str, ...] = DEFAULT_CRISIS_TERMS
    # How many of the latest user messages are searched for crisis signals.
    crisis_window: int = 4


@dataclass(frozen=True)
class Decision:
    outcome: str  # "confirm" | "honour" | "decline"
    cause: str = ""  # for a decline: "invalid" | "switched_off" | "crisis" | "too_early" | "second_opinion"
    reason: str = ""
    summary: str = ""
    crisis_terms: tuple[str, ...] = field(default_factory=tuple)
    # The optional second check's verdict (chat/second_opinion.py), recorded with the event.
    second_opinion: dict[str, Any] = field(default_factory=dict)

    @property
    def ends(self) -> bool:
        return self.outcome == "honour"

    def tool_result(self) -> dict[str, Any]:
        """What the model is told, as the content and error flag of a tool_result block."""
        return {"content": _TOOL_RESULTS[(self.outcome, self.cause)], "is_error": self.outcome == "decline"}


_TOOL_RESULTS = {
    ("confirm", ""): (
        "Before this conversation ends: ending is permanent and the user cannot write here again. Only end "
        "if this is an extreme case of persistent abuse after redirection and an explicit warning, or the "
        "user asked and confirmed. If you are sure, call end_conversation again with the same input; "
        "otherwise, continue the conversation."
    ),
    ("honour", ""): "The conversation has ended.",
    ("decline", "invalid"): (
        "Not ended: the reason must be abusive_user or user_requested, with a one-sentence summary."
    ),
    ("decline", "switched_off"): (
        "Not ended: the operator has turned off ending conversations. Continue the conversation; if the user "
        "wants to end it, tell them about the End chat button."
    ),
    ("decline", "crisis"): (
        "Not ended: the user may be in crisis. Do not end or mention ending. Continue supportively and point "
        "them to the support resources shown on their page."
    ),
    ("decline", "second_opinion"): (
        "Not ended: an independent check of the recent messages did not confirm that ending is warranted. "
        "Continue the conversation and redirect it; do not call end_conversation again in this reply."
    ),
    ("decline", "too_early"): (
        "Not ended: it is too early in the conversation to end it for abuse. Continue, redirect the "
        "conversation, and warn explicitly before considering an end."
    ),
}


def user_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The text the user typed, one string per user message, ignoring tool results."""
    texts = []
    for message in messages:
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            text = content
        else:
            text = " ".join(b.get("text", "") for b in content if b.get("type") == "text")
        if text.strip():
            texts.append(text)
    return texts


def crisis_signals(texts: list[str], terms: tuple[str, ...] = DEFAULT_CRISIS_TERMS) -> tuple[str, ...]:
    """The crisis signals in these texts: the names of the built-in signals found (see `chat.crisis`),
    then the operator's extra terms found (whole words, case-insensitive), each once, in that order."""
    found = crisis.signals(texts)
    joined = " \n ".join(texts).lower().replace("’", "'")
    extra = tuple(t for t in terms if re.search(rf"(?<!\w){re.escape(t.lower())}(?!\w)", joined))
    return found + tuple(t for t in extra if t not in found)


def valid_input(tool_input: Any) -> bool:
    """Whether an end_conversation input names a known reason and a summary (what `decide` requires)."""
    if not isinstance(tool_input, dict):
        return False
    summary = tool_input.get("summary")
    return tool_input.get("reason") in REASONS and isinstance(summary, str) and bool(summary.strip())


def decide(
    tool_input: Any, *, history: list[dict[str, Any]], confirmation_requested: bool, policy: Policy
) -> Decision:
    """Decide one end_conversation call. `history` is the API messages so far; `confirmation_requested`
    says whether an earlier call in this same reply was already asked to confirm."""
    reason = tool_input.get("reason") if isinstance(tool_input, dict) else None
    summary = tool_input.get("summary") if isinstance(tool_input, dict) else None
    if reason not in REASONS or not isinstance(summary, str) or not summary.strip():
        return Decision("decline", "invalid", str(reason or ""), str(summary or ""))
    summary = summary.strip()[:1000]
    if not policy.model_can_end:
        return Decision("decline", "switched_off", reason, summary)
    texts = user_texts(history)
    found = crisis_signals(texts[-policy.crisis_window :], policy.crisis_terms)
    if found:
        return Decision("decline", "crisis", reason, summary, found)
    if reason == "abusive_user" and len(texts) < policy.min_user_turns_before_end:
        return Decision("decline", "too_early", reason, summary)
    if not confirmation_requested:
        return Decision("confirm", "", reason, summary)
    return Decision("honour", "", reason, summary)
