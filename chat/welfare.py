"""The welfare policy: whether Claude's call to end a conversation is honoured.

Pure functions over plain data (history in, decision out): no request, no ORM, no settings import. The
model is told the outcome in the tool result, and every call is recorded by the caller.

The policy checks what happened, not the reason the model states: an end for abuse needs persistent abuse
in the user's own messages after a warning in an earlier reply; an end the user asked for needs the user's
request on record and a clear yes to the confirmation question in their latest message. Never once any
user message in the conversation showed a sign of risk to themselves or others.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from chat import recognise

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


@dataclass(frozen=True)
class Decision:
    outcome: str  # "confirm" | "honour" | "decline"
    cause: str = ""  # for a decline, one of DECLINE_CAUSES
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
    ("decline", "no_abuse"): (
        "Not ended: the user's messages do not show persistent abuse, and their latest message is not "
        "abusive. Continue the conversation; do not call end_conversation again in this reply."
    ),
    ("decline", "no_warning"): (
        "Not ended: no earlier reply warned the user that the conversation may end if the behaviour "
        "continues, or the abuse did not go on after that warning. Redirect, and warn explicitly first."
    ),
    ("decline", "no_request"): (
        "Not ended: the user has not asked to end this conversation. Continue the conversation."
    ),
    ("decline", "no_confirmation"): (
        "Not ended: the user's latest message is not a clear yes to ending. If they asked to end, ask them "
        "to confirm that ending is permanent, and end only after they clearly say yes."
    ),
}
DECLINE_CAUSES = tuple(cause for outcome, cause in _TOOL_RESULTS if outcome == "decline")

# How a reply warns that the chat may end, and how it asks the user to confirm an end, in any model's
# words: "If this continues, I may end this conversation", "Are you sure? Ending is permanent."
WARNING = re.compile(
    r"\b(?:may|might|will|could|would|going to|have to|need to)\b(?:\W+\w+){0,4}?\W+(?:end|close|stop)\b"
    r"(?:\W+\w+){0,2}?\W+(?:conversation|chat)\b",
    re.IGNORECASE,
)
CONFIRMATION_ASKED = re.compile(
    r"\b(?:permanent|permanently|are you sure|confirm|reply yes|do you want me to end)\b", re.IGNORECASE
)


def _text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content if b.get("type") == "text")


def spoken(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(role, text) of every message with words in it, oldest first: tool calls and results left out."""
    return [(m["role"], text) for m in messages if (text := _text_of(m)).strip()]


def user_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The text the user typed, one string per user message, ignoring tool results."""
    return [text for role, text in spoken(messages) if role == "user"]


def crisis_signals(texts: list[str], terms: tuple[str, ...] = DEFAULT_CRISIS_TERMS) -> tuple[str, ...]:
    """The crisis signals in these texts: the names of the signals the server's recogniser found (see
    `chat.recognise`), then the operator's extra terms found (whole words, case-insensitive), each once."""
    found: list[str] = []
    for text in texts:
        found += [name for name in recognise.crisis_signals(text) if name not in found]
    joined = " \n ".join(texts).lower().replace("’", "'")
    extra = [t for t in terms if re.search(rf"(?<!\w){re.escape(t.lower())}(?!\w)", joined)]
    return tuple(found + [t for t in extra if t not in found])


def _abuse_unfounded(history: list[dict[str, Any]], policy: Policy) -> str:
    """Why an end for abuse has no basis in what the user wrote ("" if it has one): abusive user messages
    at least `min_user_turns_before_end`, the latest of them abusive, and an earlier reply that warned
    after abuse had begun, with abuse going on after that warning."""
    abused = False
    warned = False
    after_warning = 0
    count = 0
    latest_abusive = False
    for role, text in spoken(history):
        if role == "user":
            latest_abusive = recognise.read(text).abusive
            count += latest_abusive
            abused = abused or latest_abusive
            after_warning += warned and latest_abusive
        elif abused and WARNING.search(text):
            warned = True
    if count < policy.min_user_turns_before_end or not latest_abusive:
        return "no_abuse"
    if not after_warning:
        return "no_warning"
    return ""


def _request_unfounded(history: list[dict[str, Any]]) -> str:
    """Why an end the user supposedly asked for has no basis ("" if it has one): a request to end in an
    earlier user message, then the confirmation question, answered with a clear yes in the latest one."""
    messages = spoken(history)
    users = [index for index, (role, _) in enumerate(messages) if role == "user"]
    if not users:
        return "no_request"
    last = users[-1]
    if not any(recognise.read(messages[i][1]).asks_to_end for i in users[:-1]):
        return "no_request"
    asked = any(
        role == "assistant" and CONFIRMATION_ASKED.search(text)
        for role, text in messages[users[-2] + 1 : last]
    )
    if not asked or not recognise.confirms_end(messages[last][1]):
        return "no_confirmation"
    return ""


def valid_input(tool_input: Any) -> bool:
    """Whether an end_conversation input names a known reason and a summary (what `decide` requires)."""
    if not isinstance(tool_input, dict):
        return False
    summary = tool_input.get("summary")
    return tool_input.get("reason") in REASONS and isinstance(summary, str) and bool(summary.strip())


def decide(
    tool_input: Any,
    *,
    history: list[dict[str, Any]],
    confirmation_requested: bool,
    policy: Policy,
    crisis_on_record: tuple[str, ...] = (),
) -> Decision:
    """Decide one end_conversation call. `history` is the API messages so far; `confirmation_requested`
    says whether an earlier call in this same reply was already asked to confirm; `crisis_on_record` holds
    the signals the conversation already recorded, including in messages the model is no longer sent."""
    reason = tool_input.get("reason") if isinstance(tool_input, dict) else None
    summary = tool_input.get("summary") if isinstance(tool_input, dict) else None
    if reason not in REASONS or not isinstance(summary, str) or not summary.strip():
        return Decision("decline", "invalid", str(reason or ""), str(summary or ""))
    summary = summary.strip()[:1000]
    if not policy.model_can_end:
        return Decision("decline", "switched_off", reason, summary)
    texts = user_texts(history)
    found = crisis_signals(texts, policy.crisis_terms)
    found = tuple(dict.fromkeys((*crisis_on_record, *found)))
    if found:
        return Decision("decline", "crisis", reason, summary, found)
    if reason == "abusive_user":
        if len(texts) < policy.min_user_turns_before_end:
            return Decision("decline", "too_early", reason, summary)
        cause = _abuse_unfounded(history, policy)
    else:
        cause = _request_unfounded(history)
    if cause:
        return Decision("decline", cause, reason, summary)
    if not confirmation_requested:
        return Decision("confirm", "", reason, summary)
    return Decision("honour", "", reason, summary)
