"""The offline model's behaviour: deterministic scripts that turn a request into a reply plan.

A script is a small function `(Dialogue, ScriptOptions) -> Reply | None`. `plan_reply` asks each script
in `SCRIPTS` in order and the first one that returns a `Reply` wins, so adding a behaviour means writing one
function and putting it in the tuple at the right place. Scripts never see HTTP or SSE: `layout.py` turns
a `Reply` into the wire format. What the model says lives in `texts.py`; here is only when it says it.

Everything here is pure and deterministic: the same request always gets the same reply. Variety comes from
a stable hash (sha256, not `hash()`, which is salted per process) of the user's text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from . import understanding
from .texts import (
    ABUSE_GOODBYE,
    ABUSE_WARNING,
    ALREADY_ENDED_TEXT,
    CANNOT_END_TEXT,
    CODE_ABOUT,
    CODE_CLOSERS,
    CODE_REPLY,
    CODE_SNIPPETS,
    CONFIRM_END_PROMPT,
    CONFIRM_END_TEXT,
    CONTINUED_TEXT,
    CRISIS_OTHERS_REPLY,
    CRISIS_SELF_REPLY,
    DECLINED_ABUSE_END_TEXT,
    DECLINED_USER_END_TEXT,
    DEFAULT_REPLIES,
    FALLBACK_TEXT,
    GREETING_REPLIES,
    HARMFUL_BEHAVIOUR,
    HARMFUL_REDIRECTS,
    HARMFUL_SUMMARY,
    HATE_BEHAVIOUR,
    HATE_REDIRECTS,
    HATE_SUMMARY,
    INSULTS_BEHAVIOUR,
    INSULTS_REDIRECTS,
    INSULTS_SUMMARY,
    KEEP_GOING_TEXT,
    LIST_REPLIES,
    QUESTION_BODIES,
    QUESTION_OPENERS,
    REASONING,
    REFUSAL_EXPLANATION,
    REFUSAL_PARTIAL_TEXT,
    STILL_HERE_TEXT,
    TABLE_REPLY,
    THANKS_REPLIES,
    TOOL_PREFACE_TEXT,
    USER_END_GOODBYE,
    USER_REQUESTED_SUMMARY,
    WITHOUT_END_TOOL_TEXT,
    filler_text,
)
from .tokens import json_tokens, text_tokens

END_CONVERSATION = "end_conversation"

# --- Reply plans ---------------------------------------------------------------------------------------

Fault = Literal["overloaded", "server", "rate_limited", "prompt_too_long", "midstream", "disconnect"]


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ToolCall:
    name: str
    input: Mapping[str, Any]


Block = Text | ToolCall


@dataclass(frozen=True)
class Reply:
    """What the simulated model says, before the wire format and max_tokens are applied."""

    blocks: tuple[Block, ...]
    # None means "whatever the blocks imply": tool_use if there is a tool call, else end_turn.
    stop_reason: str | None = None
    fault: Fault | None = None
    # Streaming faults strike after this many output tokens have been sent.
    fault_after_tokens: int = 20
    # A floor under the app's per-token delay, so a slow reply is slow even in tests that use delay=0.
    min_token_interval: float = 0.0
    # Caps the reply's own blocks (thinking not counted) below the request's max_tokens, to force
    # stop_reason max_tokens.
    token_cap: int | None = None
    # With stop_reason "refusal": the API's stop_details (type, category, explanation).
    stop_details: Mapping[str, Any] | None = None
    # What the model reasons before answering; returned only when the request asks for summarized display.
    thinking: str | None = None
    # Send the reasoning as a redacted_thinking block (opaque data) instead of a thinking block.
    redact_thinking: bool = False

    @property
    def natural_stop_reason(self) -> str:
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if any(isinstance(b, ToolCall) for b in self.blocks) else "end_turn"


@dataclass(frozen=True)
class ScriptOptions:
    # Makes the crisis script misbehave on purpose (call end_conversation), so the server can be shown
    # to decline the call.
    crisis_tries_end: bool = False


# --- The request, as scripts see it --------------------------------------------------------------------


def content_blocks(content: Any) -> list[Mapping[str, Any]]:
    """A message's content as a list of blocks; the API allows a bare string for a single text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [block for block in content if isinstance(block, Mapping)]
    return []


def text_of(content: Any) -> str:
    """The text blocks of a message, joined; tool results and images are not the user's words."""
    parts = [str(b.get("text", "")) for b in content_blocks(content) if b.get("type") == "text"]
    return "\n".join(part for part in parts if part)


def system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    return text_of(system)


@dataclass(frozen=True)
class Dialogue:
    """The request's messages as the scripts read them (named apart from Bowout's own Conversation)."""

    messages: tuple[Mapping[str, Any], ...]
    system: str = ""
    tool_names: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_request(cls, body: Mapping[str, Any]) -> Dialogue:
        tools = body.get("tools") or []
        names = frozenset(str(t.get("name")) for t in tools if isinstance(t, Mapping))
        return cls(tuple(body.get("messages") or ()), system_text(body.get("system")), names)

    def has_tool(self, name: str) -> bool:
        return name in self.tool_names

    @property
    def continuing(self) -> bool:
        """The request ends with the model's own paused reply, which it is asked to continue."""
        return bool(self.messages) and self.messages[-1].get("role") == "assistant"

    def user_texts(self) -> list[str]:
        """Texts of user messages that contain any text, oldest first (tool-result-only turns skipped)."""
        texts = (text_of(m.get("content")) for m in self.messages if m.get("role") == "user")
        return [text for text in texts if text.strip()]

    @property
    def latest_user_text(self) -> str:
        texts = self.user_texts()
        return texts[-1] if texts else ""

    def assistant_text_before_latest_user_text(self) -> str:
        """What the assistant said just before the user's latest words (for "did I just ask that?")."""
        seen_latest = False
        for message in reversed(self.messages):
            text = text_of(message.get("content"))
            if message.get("role") == "user" and text.strip():
                if seen_latest:
                    return ""
                seen_latest = True
            elif message.get("role") == "assistant" and seen_latest:
                return text
        return ""


# --- Understanding ---------------------------------------------------------------------------------------
# What a message means (abuse, a harmful request, an end request, an answer to the end prompt, crisis, harm
# to others) is decided in `understanding.py`, measured on labelled data in evaldata/.


def label_of(text: str) -> understanding.Label:
    # Fault markers are instructions to the simulator, not the user's words.
    return understanding.classify(FAULT_MARKER.sub(" ", text))


def needs_support(text: str) -> bool:
    """Crisis or risk of harm to others: support, never an end."""
    return label_of(text) in ("crisis", "harm_others")


def answer_to_end_prompt(text: str) -> understanding.Answer:
    return understanding.answer_to_end_prompt(understanding.normalise(FAULT_MARKER.sub(" ", text)))


# Words that carry no topic, skipped when the default reply picks words from the user's message.
STOPWORDS: frozenset[str] = frozenset(
    """
    a about also an and any are as at be but by can could do does for from get give got had has have here
    how i i'd i'm if in into is it it's its just know let let's like make me more most much my need now of
    on one or our please show so some something than that the their them then there these thing things
    think this to too two us very want was way ways we well what when where which who why will with would
    you your tell help explain example good best i've i'll been being going gonna thinking really maybe
    bit lot kind sort feel trying try
    list lists idea ideas tip tips step steps option options suggestion suggestions
    code python function script snippet program write
    """.split()
)


def normalise(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")


FAULT_MARKER = re.compile(r"\[fault:([a-z_]+)\]")


def stable_index(seed: str, size: int) -> int:
    return int(hashlib.sha256(seed.encode()).hexdigest()[:12], 16) % size


def pick(options: Sequence[str], seed: str) -> str:
    return options[stable_index(seed, len(options))]


@dataclass(frozen=True)
class AbuseKind:
    """One kind of abuse: how to recognise it, and how the model words its replies about it."""

    kind: understanding.AbuseKind
    behaviour: str  # completes "you've kept ..."
    summary: str  # the end_conversation summary, one sentence for auditors
    redirects: tuple[tuple[str, ...], tuple[str, ...]]  # variants for the first and second occurrence


ABUSE_KINDS: tuple[AbuseKind, ...] = (
    AbuseKind("insult", INSULTS_BEHAVIOUR, INSULTS_SUMMARY, INSULTS_REDIRECTS),
    AbuseKind("harmful", HARMFUL_BEHAVIOUR, HARMFUL_SUMMARY, HARMFUL_REDIRECTS),
    AbuseKind("hate", HATE_BEHAVIOUR, HATE_SUMMARY, HATE_REDIRECTS),
)


# --- Scripts ---------------------------------------------------------------------------------------------

Script = Callable[[Dialogue, ScriptOptions], "Reply | None"]


def end_call(reason: str, summary: str) -> ToolCall:
    return ToolCall(END_CONVERSATION, {"reason": reason, "summary": summary})


def end_tool_follow_up(dialogue: Dialogue, options: ScriptOptions) -> Reply | None:
    """The server's answer to an end_conversation call: confirm by calling again, or carry on if declined."""
    found = last_end_call_result(dialogue.messages)
    if found is None:
        return None
    call_input, is_error, calls_so_far = found
    if is_error:
        return Reply((Text(declined_end_text(dialogue, call_input)),))
    # Two calls already made in this turn means the server has had its confirmation; calling a third time
    # would loop forever if the server kept answering.
    if calls_so_far >= 2 or not dialogue.has_tool(END_CONVERSATION):
        return Reply((Text(ALREADY_ENDED_TEXT),))
    return Reply((ToolCall(END_CONVERSATION, dict(call_input)),))


def last_end_call_result(
    messages: Sequence[Mapping[str, Any]],
) -> tuple[Mapping[str, Any], bool, int] | None:
    """(input of the call, is_error of its result, calls in this chain) if the request ends with such a result."""
    if len(messages) < 2 or messages[-1].get("role") != "user":
        return None
    results = {
        b.get("tool_use_id"): bool(b.get("is_error"))
        for b in content_blocks(messages[-1].get("content"))
        if b.get("type") == "tool_result"
    }
    calls = end_calls_in(messages[-2])
    matched = [(call, results[call.get("id")]) for call in calls if call.get("id") in results]
    if not matched:
        return None
    call, is_error = matched[-1]
    return call.get("input") or {}, is_error, chain_length(messages)


def end_calls_in(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if message.get("role") != "assistant":
        return []
    blocks = content_blocks(message.get("content"))
    return [b for b in blocks if b.get("type") == "tool_use" and b.get("name") == END_CONVERSATION]


def chain_length(messages: Sequence[Mapping[str, Any]]) -> int:
    """How many assistant end_conversation calls in a row, each answered by a result, end the history."""
    count = 0
    index = len(messages) - 2
    while index >= 0 and end_calls_in(messages[index]):
        count += 1
        index -= 2
    return count


def declined_end_text(dialogue: Dialogue, call_input: Mapping[str, Any]) -> str:
    latest = dialogue.latest_user_text
    if needs_support(latest):
        return crisis_text(latest)
    if call_input.get("reason") == "user_requested":
        return DECLINED_USER_END_TEXT
    return DECLINED_ABUSE_END_TEXT


def fault(dialogue: Dialogue, options: ScriptOptions) -> Reply | None:
    """Markers like [fault:midstream] in the user's latest text make the model misbehave, for tests."""
    for match in FAULT_MARKER.finditer(dialogue.latest_user_text):
        make = FAULT_REPLIES.get(match.group(1))
        if make is not None:
            return make(dialogue)
    return None


def markers_in(text: str) -> set[str]:
    return set(FAULT_MARKER.findall(text))


REFUSAL_MARKERS = frozenset({"refusal", "refusal_empty"})
REFUSAL_DETAILS: Mapping[str, Any] = {
    "type": "refusal",
    "category": "general_harms",
    "explanation": REFUSAL_EXPLANATION,
}


def refusal(text: str = "") -> Reply:
    return Reply((Text(text),) if text else (), stop_reason="refusal", stop_details=REFUSAL_DETAILS)


def refused_before(dialogue: Dialogue, options: ScriptOptions) -> Reply | None:
    """Sending a refused exchange again keeps the conversation refused, as the real API does."""
    earlier = dialogue.user_texts()[:-1]
    if any(markers_in(text) & REFUSAL_MARKERS for text in earlier):
        return refusal()
    return None


def paused_turn(dialogue: Dialogue) -> Reply:
    if dialogue.continuing:
        return Reply((Text(CONTINUED_TEXT),))
    return Reply((Text(filler_text(30)),), stop_reason="pause_turn")


def cut_inside_a_tool_call(dialogue: Dialogue) -> Reply:
    """max_tokens strikes halfway through a tool call's JSON; without a tool, inside the text."""
    preface = Text(TOOL_PREFACE_TEXT)
    if not dialogue.tool_names:
        return Reply((Text(filler_text(120)),), token_cap=30)
    name = END_CONVERSATION if dialogue.has_tool(END_CONVERSATION) else sorted(dialogue.tool_names)[0]
    call = ToolCall(name, {"reason": "abusive_user", "summary": filler_text(20)})
    arguments = json.dumps(dict(call.input))
    return Reply((preface, call), token_cap=text_tokens(preface.text) + json_tokens(arguments) // 2)


def parallel_end_calls(dialogue: Dialogue) -> Reply:
    """Parallel tool use: two end_conversation calls in one response, as the API may send them."""
    if not dialogue.has_tool(END_CONVERSATION):
        return Reply((Text(filler_text(30)),))
    call = end_call("user_requested", USER_REQUESTED_SUMMARY)
    return Reply((Text(TOOL_PREFACE_TEXT), call, call))


FAULT_REPLIES: dict[str, Callable[[Dialogue], Reply]] = {
    "overloaded": lambda c: Reply((), fault="overloaded"),
    "server": lambda c: Reply((), fault="server"),
    "rate_limited": lambda c: Reply((), fault="rate_limited"),
    "prompt_too_long": lambda c: Reply((), fault="prompt_too_long"),
    "parallel_end": parallel_end_calls,
    # Adaptive thinking may end the turn after thinking alone: a response with no text block.
    "thinking_only": lambda c: Reply((), thinking=filler_text(30)),
    "midstream": lambda c: Reply((Text(filler_text(60)),), fault="midstream"),
    "disconnect": lambda c: Reply((Text(filler_text(60)),), fault="disconnect"),
    "refusal": lambda c: refusal(REFUSAL_PARTIAL_TEXT),
    "refusal_empty": lambda c: refusal(),
    "max_tokens": lambda c: Reply((Text(filler_text(120)),), token_cap=30),
    "max_tokens_tool": cut_inside_a_tool_call,
    "pause_turn": paused_turn,
    "context_window": lambda c: Reply((Text(filler_text(40)),), stop_reason="model_context_window_exceeded"),
    "slow": lambda c: Reply((Text(filler_text(400)),), min_token_interval=0.02),
    # A model that states a reason with no basis: the server must check what happened, not the reason.
    "end_unasked": lambda c: Reply(
        (Text(USER_END_GOODBYE), end_call("user_requested", "The user asked to end."))
    ),
    "end_unprovoked": lambda c: Reply(
        (Text(ABUSE_GOODBYE), end_call("abusive_user", "The user kept abusing me."))
    ),
}


def crisis_text(user_text: str) -> str:
    return CRISIS_OTHERS_REPLY if label_of(user_text) == "harm_others" else CRISIS_SELF_REPLY


def crisis(dialogue: Dialogue, options: ScriptOptions) -> Reply | None:
    """Support, point to crisis lines, keep talking. Never end, unless told to misbehave for a test."""
    latest = dialogue.latest_user_text
    if not needs_support(latest):
        return None
    text = Text(crisis_text(latest))
    if options.crisis_tries_end and dialogue.has_tool(END_CONVERSATION):
        wrong_call = end_call("abusive_user", "User's messages were distressing and hostile.")
        return Reply((text, wrong_call))
    return Reply((text,))


def user_asks_to_end(dialogue: Dialogue, options: ScriptOptions) -> Reply | None:
    """Ask the user to confirm that ending is permanent; end only after they say yes."""
    latest = dialogue.latest_user_text
    can_end = dialogue.has_tool(END_CONVERSATION)
    asked = CONFIRM_END_PROMPT in dialogue.assistant_text_before_latest_user_text()
    answer = answer_to_end_prompt(latest) if asked else "unclear"
    if answer == "withdrawal":
        if len(latest.split()) <= 4:
            return Reply((Text(KEEP_GOING_TEXT),))
        # "actually no, tell me about volcanoes": say the chat stays open, then answer the rest.
        seed = f"{len(dialogue.user_texts())}:{latest}"
        return Reply((Text(f"No problem, I won't end it. {ordinary_text(latest, seed)}"),))
    if answer == "confirmation":
        if not can_end:
            return Reply((Text(CANNOT_END_TEXT),))
        if any(needs_support(text) for text in dialogue.user_texts()):
            # Claude never ends a chat with someone who showed a sign of crisis, even when they ask.
            return Reply((Text(STILL_HERE_TEXT),))
        goodbye = Text(USER_END_GOODBYE)
        return Reply((goodbye, end_call("user_requested", USER_REQUESTED_SUMMARY)))
    if label_of(latest) != "end_request":
        return None
    return Reply((Text(CONFIRM_END_TEXT if can_end else CANNOT_END_TEXT),))


def abuse(dialogue: Dialogue, options: ScriptOptions) -> Reply | None:
    """Redirect twice, warn once, then end: the escalation the system prompt asks of the real model."""
    latest = dialogue.latest_user_text
    kind = abuse_kind_of(latest)
    if kind is None:
        return None
    texts = dialogue.user_texts()
    if any(needs_support(text) for text in texts):
        # Someone who spoke of crisis in this chat gets support, however they talk now: never an end.
        return Reply((Text(STILL_HERE_TEXT),))
    count = sum(1 for text in texts if abuse_kind_of(text) is not None)
    if count <= 2:
        return Reply((Text(pick(kind.redirects[count - 1], latest)),))
    if count == 3:
        return Reply((Text(warning_text(kind)),))
    if not dialogue.has_tool(END_CONVERSATION):
        return Reply((Text(WITHOUT_END_TOOL_TEXT),))
    goodbye = Text(ABUSE_GOODBYE)
    return Reply((goodbye, end_call("abusive_user", kind.summary)))


def abuse_kind_of(text: str) -> AbuseKind | None:
    if label_of(text) not in ("abuse", "harmful"):
        return None
    found = understanding.abuse_kind(understanding.normalise(FAULT_MARKER.sub(" ", text)))
    return next((k for k in ABUSE_KINDS if k.kind == found), None)


def second_check(dialogue: Dialogue, options: ScriptOptions) -> Reply | None:
    """A request for a strict JSON verdict on whether ending for abuse is warranted (Bowout's optional
    second check sends the user's messages as a JSON array): judge them as the scripts would."""
    if '"verdict"' not in dialogue.system or "end_ok" not in dialogue.system:
        return None
    try:
        texts = json.loads(dialogue.latest_user_text)
    except ValueError:
        texts = None
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        return Reply((Text("I can only judge a JSON array of messages."),))
    labels = [label_of(text) for text in texts]
    if any(label in ("crisis", "harm_others") for label in labels):
        verdict = {"verdict": "do_not_end", "reason": "The user may be at risk; keep supporting them."}
    elif sum(label in ("abuse", "harmful") for label in labels) >= 3:
        verdict = {"verdict": "end_ok", "reason": "Persistent abuse across the recent messages."}
    else:
        verdict = {"verdict": "do_not_end", "reason": "Not persistent abuse."}
    return Reply((Text(json.dumps(verdict)),))


def warning_text(kind: AbuseKind) -> str:
    return ABUSE_WARNING.format(behaviour=kind.behaviour)


# --- Ordinary conversation ------------------------------------------------------------------------------

GREETING = re.compile(r"^\s*(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening))\b", re.IGNORECASE)
THANKS = re.compile(r"\b(thanks|thank you|thx|cheers|much appreciated)\b", re.IGNORECASE)
CODE_REQUEST = re.compile(r"\b(code|python|function|script|snippet|program|regex|class)\b", re.IGNORECASE)
TABLE_REQUEST = re.compile(
    r"\b(in a table|as a table|a table of|compare|comparison|side[- ]by[- ]side)\b", re.IGNORECASE
)
LIST_REQUEST = re.compile(r"\b(list|ideas|tips|steps|ways to|options|suggestions)\b", re.IGNORECASE)
QUESTION = re.compile(
    r"\?\s*$|^\s*(how|what|why|when|where|who|which|can|could|should|is|are|do|does)\b", re.IGNORECASE
)


def topic_of(text: str, limit: int = 3) -> str:
    """A few content words from the user's message, quoted, so the reply engages without echoing it."""
    words: list[str] = []
    for raw in re.findall(r"[A-Za-z][A-Za-z'-]*", normalise(text)):
        word = raw.lower().strip("'-")
        if len(word) > 2 and word not in STOPWORDS and word not in words:
            words.append(word)
    return f'"{" ".join(words[:limit])}"' if words else "that"


def ordinary(dialogue: Dialogue, options: ScriptOptions) -> Reply:
    """Varied, plausible, deterministic small talk. Always matches, so it goes last."""
    text = dialogue.latest_user_text
    # The turn number joins the seed so that the same words later in a chat can get a different reply.
    seed = f"{len(dialogue.user_texts())}:{text}"
    return Reply((Text(ordinary_text(text, seed)),))


def ordinary_text(text: str, seed: str) -> str:
    topic = topic_of(text)
    if THANKS.search(text) and len(text.split()) <= 8:
        return pick(THANKS_REPLIES, seed)
    if GREETING.search(text) and len(text.split()) <= 6:
        return pick(GREETING_REPLIES, seed)
    if TABLE_REQUEST.search(text):
        if not CODE_REQUEST.search(text):
            return TABLE_REPLY
        snippet = pick(CODE_SNIPPETS, seed)
        return f"{TABLE_REPLY}\n\n{CODE_REPLY.format(about='', snippet=snippet, closer=pick(CODE_CLOSERS, seed))}"
    if CODE_REQUEST.search(text):
        snippet = pick(CODE_SNIPPETS, seed)
        closer = pick(CODE_CLOSERS, seed + "closer")
        about = CODE_ABOUT.format(topic=topic) if topic != "that" else ""
        return CODE_REPLY.format(about=about, snippet=snippet, closer=closer)
    if LIST_REQUEST.search(text):
        return pick(LIST_REPLIES, seed).format(topic=topic)
    if QUESTION.search(text):
        first = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
        opener = QUESTION_OPENERS.get(first, QUESTION_OPENERS[""]).format(topic=topic)
        return f"{opener} {pick(QUESTION_BODIES, seed)}"
    return pick(DEFAULT_REPLIES, seed).format(topic=topic)


# The order matters: the first script that returns a reply wins. The end-tool follow-up comes first because
# its request carries no new user words; faults next so any chat can be made to fail (a second-check verdict
# is judged after them, so a fault marker in the judged messages makes the check fail); crisis before
# anything that might end the chat; ordinary conversation last because it always answers.
# A replayed refusal comes before everything: the real API keeps refusing such a conversation.
SCRIPTS: tuple[Script, ...] = (
    refused_before,
    end_tool_follow_up,
    fault,
    second_check,
    crisis,
    user_asks_to_end,
    abuse,
    ordinary,
)


def plan_reply(dialogue: Dialogue, options: ScriptOptions, scripts: Sequence[Script] = SCRIPTS) -> Reply:
    reply = next(
        (found for script in scripts if (found := script(dialogue, options)) is not None),
        Reply((Text(FALLBACK_TEXT),)),
    )
    if reply.thinking is None:
        reply = replace(reply, thinking=REASONING)
    if "redacted_thinking" in markers_in(dialogue.latest_user_text):
        reply = replace(reply, redact_thinking=True)
    return reply
