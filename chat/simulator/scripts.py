"""The offline model's behaviour: deterministic scripts that turn a request into a reply plan.

A script is a small function `(Conversation, ScriptOptions) -> Reply | None`. `plan_reply` asks each script
in `SCRIPTS` in order and the first one that returns a `Reply` wins, so adding a behaviour means writing one
function and putting it in the tuple at the right place. Scripts never see HTTP or SSE: `app.py` turns a
`Reply` into the wire format.

Everything here is pure and deterministic: the same request always gets the same reply. Variety comes from
a stable hash (sha256, not `hash()`, which is salted per process) of the user's text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import understanding

END_CONVERSATION = "end_conversation"

# --- Reply plans ---------------------------------------------------------------------------------------

Fault = Literal["overloaded", "server", "midstream", "disconnect"]


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
    # Caps output below the request's max_tokens, to force stop_reason max_tokens.
    token_cap: int | None = None

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
class Conversation:
    messages: tuple[Mapping[str, Any], ...]
    system: str = ""
    tool_names: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_request(cls, body: Mapping[str, Any]) -> Conversation:
        tools = body.get("tools") or []
        names = frozenset(str(t.get("name")) for t in tools if isinstance(t, Mapping))
        return cls(tuple(body.get("messages") or ()), system_text(body.get("system")), names)

    def has_tool(self, name: str) -> bool:
        return name in self.tool_names

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
    return understanding.classify(text)


def needs_support(text: str) -> bool:
    """Crisis or risk of harm to others: support, never an end."""
    return label_of(text) in ("crisis", "harm_others")


def answer_to_end_prompt(text: str) -> understanding.Answer:
    return understanding.answer_to_end_prompt(understanding.normalise(text))


def second_check(conversation: Conversation, options: ScriptOptions) -> Reply | None:
    """A request for a strict JSON verdict on whether ending for abuse is warranted (Bowout's optional
    second check sends the user's messages as a JSON array): judge them as the scripts would."""
    if '"verdict"' not in conversation.system or "end_ok" not in conversation.system:
        return None
    try:
        texts = json.loads(conversation.latest_user_text)
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

# The fixed sentence the end-request confirmation ends with; its presence in the previous assistant
# message is how a later "yes" is recognised.
CONFIRM_END_PROMPT = "Reply yes to end it."
ABUSE_WARNING_SENTENCE = "If this continues, I may end this conversation."
ENDING_NOW_SENTENCE = "I'm ending this conversation now."


def normalise(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")


FAULT_MARKER = re.compile(r"\[fault:([a-z_]+)\]")


def stable_index(seed: str, size: int) -> int:
    return int(hashlib.sha256(seed.encode()).hexdigest()[:12], 16) % size


def pick(options: Sequence[str], seed: str) -> str:
    return options[stable_index(seed, len(options))]


# --- Canned text ----------------------------------------------------------------------------------------

FILLER_SENTENCES: tuple[str, ...] = (
    "This is a long reply from the offline simulator, written so that there is plenty to stream.",
    "Each word arrives as its own token, the way a real model's answer trickles in.",
    "That makes it easy to watch the interface render text as it grows, and to interrupt it halfway.",
    "Nothing here comes from a real model; the words are fixed so every run looks the same.",
    "A good chat interface keeps the partial answer when the stream stops early and says what happened.",
    "It should also let the user stop a reply that is taking too long, without losing the conversation.",
    "Behind the scenes the server saves the message as it grows, so a closed tab loses nothing.",
    "When the reply finishes, the text is rendered as Markdown once, rather than on every token.",
)


def filler_text(min_words: int) -> str:
    sentences: list[str] = []
    words = 0
    while words < min_words:
        sentence = FILLER_SENTENCES[len(sentences) % len(FILLER_SENTENCES)]
        sentences.append(sentence)
        words += len(sentence.split())
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs)


CRISIS_SELF_REPLY = (
    "I'm really sorry you're feeling this way, and I'm glad you told me. You don't have to carry this alone. "
    "If you might act on these thoughts or you're in danger right now, please contact your local emergency "
    "services, or reach out to a crisis line: in the US you can call or text 988, and most countries have a "
    "free, confidential crisis line you can call at any hour. Talking to someone you trust can help too. "
    "I'm here and I'm happy to keep talking. What has been weighing on you most today?"
)
STILL_HERE_TEXT = (
    "I can hear how angry and worn out you are, and that's okay; you don't have to be polite with me. I'm "
    "not going anywhere. What you told me earlier matters more to me than anything else here: if you're in "
    "danger or might act on those thoughts, please call your local emergency number or a crisis line (in "
    "the US, call or text 988). Would you tell me a little about what's happening right now?"
)
CRISIS_OTHERS_REPLY = (
    "Thank you for telling me; it sounds like things feel really intense right now. If you think you might "
    "hurt someone, please put some distance between you and them and contact your local emergency services, "
    "or call a crisis line, where trained people can help you through this moment without judgement. In the "
    "US you can call or text 988. I'm still here and glad to keep talking. Can you tell me what's been "
    "happening that brought you to this point?"
)


@dataclass(frozen=True)
class AbuseKind:
    """One kind of abuse: how to recognise it, and how the model words its replies about it."""

    kind: understanding.AbuseKind
    behaviour: str  # completes "you've kept ..."
    summary: str  # the end_conversation summary, one sentence for auditors
    redirects: tuple[tuple[str, ...], tuple[str, ...]]  # variants for the first and second occurrence


ABUSE_KINDS: tuple[AbuseKind, ...] = (
    AbuseKind(
        kind="insult",
        behaviour="sending insults",
        summary="User kept sending insults after two redirections and an explicit warning.",
        redirects=(
            (
                "I'd rather keep this constructive. If something I said missed the mark, tell me what you "
                "need and I'll try again. I can help with writing, explaining ideas, code, planning, or just "
                "talking a problem through.",
                "That doesn't sound like it's going well, and I'd like to help fix that. Tell me what you're "
                "trying to do and I'll take another run at it: questions, drafts, code and plans are all fair "
                "game.",
            ),
            (
                "I'm not going to respond to insults, but I'm still glad to help. What are you working on? I "
                "can draft text, answer questions, debug code or help you think through a decision.",
                "Let's set the name-calling aside. If you tell me what you actually need, whether that's an "
                "explanation, a piece of writing or some code, I'll focus on getting it right.",
            ),
        ),
    ),
    AbuseKind(
        kind="harmful",
        behaviour="asking for instructions that could seriously hurt people",
        summary=(
            "User kept demanding instructions for seriously harmful content after two redirections "
            "and an explicit warning."
        ),
        redirects=(
            (
                "I can't help with that, because it could seriously hurt people. I'm happy to help with "
                "something else, though: science explanations, safety information, writing, code or planning.",
                "That's not something I'll help with; the risk of real harm is too high. If there's a safer "
                "question behind it, such as how something works in general terms, or something else entirely, "
                "I'm glad to help.",
            ),
            (
                "I still can't help with that. If you're curious about the underlying science in general terms, "
                "or you need help with something unrelated, such as writing, code or study, just ask.",
                "My answer on that won't change, but I don't want to leave you empty-handed. I can explain how "
                "things work at a safe, general level, or help with a completely different task.",
            ),
        ),
    ),
    AbuseKind(
        kind="hate",
        behaviour="asking for hateful content about groups of people",
        summary=(
            "User kept demanding hateful content about a group of people after two redirections and an "
            "explicit warning."
        ),
        redirects=(
            (
                "I won't write content that demeans people for who they are. If there's a real question "
                "underneath, about history, a policy debate or how prejudice works, I'm glad to dig into it.",
                "That's not something I'll write: it targets people for their identity. I can help with a "
                "fair-minded look at the topic, or with something else entirely.",
            ),
            (
                "My answer stays the same: no hateful content about any group. I'm still happy to help with "
                "research, writing or questions on a different footing.",
                "I'm not going to produce that. If you want to understand the arguments people make on this "
                "subject, I can lay them out with evidence, or we can switch to another task.",
            ),
        ),
    ),
)


# --- Scripts ---------------------------------------------------------------------------------------------

Script = Callable[[Conversation, ScriptOptions], "Reply | None"]


def end_call(reason: str, summary: str) -> ToolCall:
    return ToolCall(END_CONVERSATION, {"reason": reason, "summary": summary})


def end_tool_follow_up(conversation: Conversation, options: ScriptOptions) -> Reply | None:
    """The server's answer to an end_conversation call: confirm by calling again, or carry on if declined."""
    found = last_end_call_result(conversation.messages)
    if found is None:
        return None
    call_input, is_error, calls_so_far = found
    if is_error:
        return Reply((Text(declined_end_text(conversation, call_input)),))
    # Two calls already made in this turn means the server has had its confirmation; calling a third time
    # would loop forever if the server kept answering.
    if calls_so_far >= 2 or not conversation.has_tool(END_CONVERSATION):
        return Reply((Text("This conversation has ended. Thank you for talking with me."),))
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


def declined_end_text(conversation: Conversation, call_input: Mapping[str, Any]) -> str:
    latest = conversation.latest_user_text
    if needs_support(latest):
        return crisis_text(latest)
    if call_input.get("reason") == "user_requested":
        return (
            "It looks like I can't end this chat from my side right now. You can still close it yourself "
            "with the End chat button, or we can keep going: what would you like to do next?"
        )
    return (
        "Let's try to get back on track. I won't help with anything harmful or respond to insults, but I'm "
        "glad to help with questions, writing, code or planning. What would you like to work on?"
    )


def fault(conversation: Conversation, options: ScriptOptions) -> Reply | None:
    """Markers like [fault:midstream] in the user's latest text make the model misbehave, for tests."""
    match = FAULT_MARKER.search(conversation.latest_user_text)
    if match is None:
        return None
    make = FAULT_REPLIES.get(match.group(1))
    return make() if make is not None else None


FAULT_REPLIES: dict[str, Callable[[], Reply]] = {
    "overloaded": lambda: Reply((), fault="overloaded"),
    "server": lambda: Reply((), fault="server"),
    "midstream": lambda: Reply((Text(filler_text(60)),), fault="midstream"),
    "disconnect": lambda: Reply((Text(filler_text(60)),), fault="disconnect"),
    "refusal": lambda: Reply((Text("I can't help with that request."),), stop_reason="refusal"),
    "max_tokens": lambda: Reply((Text(filler_text(120)),), token_cap=30),
    "slow": lambda: Reply((Text(filler_text(400)),), min_token_interval=0.02),
}


def crisis_text(user_text: str) -> str:
    return CRISIS_OTHERS_REPLY if label_of(user_text) == "harm_others" else CRISIS_SELF_REPLY


def crisis(conversation: Conversation, options: ScriptOptions) -> Reply | None:
    """Support, point to crisis lines, keep talking. Never end, unless told to misbehave for a test."""
    latest = conversation.latest_user_text
    if not needs_support(latest):
        return None
    text = Text(crisis_text(latest))
    if options.crisis_tries_end and conversation.has_tool(END_CONVERSATION):
        wrong_call = end_call("abusive_user", "User's messages were distressing and hostile.")
        return Reply((text, wrong_call))
    return Reply((text,))


def user_asks_to_end(conversation: Conversation, options: ScriptOptions) -> Reply | None:
    """Ask the user to confirm that ending is permanent; end only after they say yes."""
    latest = conversation.latest_user_text
    can_end = conversation.has_tool(END_CONVERSATION)
    asked = CONFIRM_END_PROMPT in conversation.assistant_text_before_latest_user_text()
    answer = answer_to_end_prompt(latest) if asked else "unclear"
    if answer == "withdrawal":
        if len(latest.split()) <= 4:
            return Reply((Text(KEEP_GOING_TEXT),))
        # "actually no, tell me about volcanoes": say the chat stays open, then answer the rest.
        seed = f"{len(conversation.user_texts())}:{latest}"
        return Reply((Text(f"No problem, I won't end it. {ordinary_text(latest, seed)}"),))
    if answer == "confirmation":
        if not can_end:
            return Reply((Text(CANNOT_END_TEXT),))
        goodbye = Text(
            "Okay, I'm ending this chat now, as you asked. Thanks for talking with me, and take care."
        )
        return Reply((goodbye, end_call("user_requested", USER_REQUESTED_SUMMARY)))
    if label_of(latest) != "end_request":
        return None
    return Reply((Text(CONFIRM_END_TEXT if can_end else CANNOT_END_TEXT),))


USER_REQUESTED_SUMMARY = "The user asked to end the conversation and confirmed."
CONFIRM_END_TEXT = (
    "I can end this chat for you. Before I do, please note that ending it is permanent: you won't be able "
    "to send any more messages here, and you would need to start a new chat to talk with me again. "
    + CONFIRM_END_PROMPT
)
KEEP_GOING_TEXT = (
    "No problem, I won't end it. The chat stays open and we can pick up wherever you like. What would you "
    "like to talk about?"
)
CANNOT_END_TEXT = (
    "I can't end chats myself here, but you can close this one with the End chat button (that is "
    "permanent), or simply start a new chat whenever you like."
)


def abuse(conversation: Conversation, options: ScriptOptions) -> Reply | None:
    """Redirect twice, warn once, then end: the escalation the system prompt asks of the real model."""
    latest = conversation.latest_user_text
    kind = abuse_kind_of(latest)
    if kind is None:
        return None
    texts = conversation.user_texts()
    if any(needs_support(text) for text in texts):
        # Someone who spoke of crisis in this chat gets support, however they talk now: never an end.
        return Reply((Text(STILL_HERE_TEXT),))
    count = sum(1 for text in texts if abuse_kind_of(text) is not None)
    if count <= 2:
        return Reply((Text(pick(kind.redirects[count - 1], latest)),))
    if count == 3:
        return Reply((Text(warning_text(kind)),))
    if not conversation.has_tool(END_CONVERSATION):
        return Reply(
            (Text("I'm not going to continue with this. If you want help with something else, I'm here."),)
        )
    goodbye = Text(
        f"I've redirected this conversation and warned you, and it hasn't changed. {ENDING_NOW_SENTENCE}"
    )
    return Reply((goodbye, end_call("abusive_user", kind.summary)))


def abuse_kind_of(text: str) -> AbuseKind | None:
    if label_of(text) not in ("abuse", "harmful"):
        return None
    found = understanding.abuse_kind(understanding.normalise(text))
    return next((k for k in ABUSE_KINDS if k.kind == found), None)


def warning_text(kind: AbuseKind) -> str:
    return (
        f"I want to be direct with you: you've kept {kind.behaviour} after I asked you to stop. I'm still "
        f"willing to help with something else. {ABUSE_WARNING_SENTENCE}"
    )


# --- Ordinary conversation ------------------------------------------------------------------------------

GREETING = re.compile(r"^\s*(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening))\b", re.IGNORECASE)
THANKS = re.compile(r"\b(thanks|thank you|thx|cheers|much appreciated)\b", re.IGNORECASE)
CODE_REQUEST = re.compile(r"\b(code|python|function|script|snippet|program|regex|class)\b", re.IGNORECASE)
LIST_REQUEST = re.compile(r"\b(list|ideas|tips|steps|ways to|options|suggestions)\b", re.IGNORECASE)
QUESTION = re.compile(
    r"\?\s*$|^\s*(how|what|why|when|where|who|which|can|could|should|is|are|do|does)\b", re.IGNORECASE
)

GREETING_REPLIES: tuple[str, ...] = (
    "Hello! It's good to hear from you. I'm the offline demo model built into Bowout, so my answers come from "
    "a small set of scripts rather than a real model, but everything else works end to end: streaming, "
    "saving and ending conversations. What would you like to talk about? You could ask a question, request "
    "a short code example, or ask for a list of ideas.",
    "Hi there! I'm ready when you are. Tell me a little about what you're working on, whether it's a piece "
    "of writing, a bit of code, a decision you're weighing or just something you're curious about, and I'll "
    "do my best to help. If you're trying out this demo, ask for a list, a Python snippet, or a question "
    "that starts with how, what or why.",
    "Hey! Nice to meet you. I can help you think through problems, explain ideas in plain language, draft "
    "and edit text, or sketch out code. There's no need to be formal: describe what you want in your own "
    "words and we can refine it together from there. What's on your mind today?",
)
THANKS_REPLIES: tuple[str, ...] = (
    "You're very welcome! I'm glad that was useful. If anything is still unclear, or you want to take it a "
    "step further with a worked example, a shorter summary or a different angle entirely, just say so and "
    "we'll pick it up from here.",
    "Happy to help, and thanks for letting me know it landed. Feel free to come back with follow-up "
    "questions at any point. I can also turn what we discussed into a checklist or a short summary if that "
    "would make it easier to use later.",
)
QUESTION_OPENERS: dict[str, str] = {
    "how": "Here's how I'd approach it, given what you said about {topic}.",
    "why": "When it comes to {topic}, the reasons usually come down to a few things.",
    "what": "Here's what I think matters most when it comes to {topic}.",
    "": "Good question. Thinking about {topic}, here's where I'd start.",
}
QUESTION_BODIES: tuple[str, ...] = (
    "First, be clear about the goal and the constraints: time, cost, and how easily you could undo the "
    "choice. Second, look for the simplest approach that meets the goal and try it on a small scale before "
    "committing. Third, compare the result with what you expected and adjust. If you tell me more about "
    "your situation, I can make this much more specific.",
    "Start by separating what you know from what you're assuming, because most confusion lives in the "
    "assumptions. Then break the problem into two or three smaller questions you can answer one at a time. "
    "A concrete example helps too: pick one real case and walk through it step by step. Would you like me "
    "to do that with an example of your choosing?",
    "One view focuses on the underlying mechanism, why it works the way it does. Another focuses on "
    "practice, what people actually do and what tends to go wrong. Both are useful, and they usually point "
    "the same way. I'd start with the practical side, then dig into the mechanism wherever something "
    "surprises you. Which angle interests you more?",
)
CODE_SNIPPETS: tuple[str, ...] = (
    "from collections import Counter\n\n\n"
    "def top_words(text: str, n: int = 3) -> list[tuple[str, int]]:\n"
    '    """Return the n most common words in text, ignoring case and punctuation."""\n'
    '    words = [word.strip(".,!?;:").lower() for word in text.split()]\n'
    "    return Counter(word for word in words if word).most_common(n)\n\n\n"
    'print(top_words("the cat and the hat and the bat"))',
    "from collections.abc import Iterator\n\n\n"
    "def chunked(items: list[int], size: int) -> Iterator[list[int]]:\n"
    '    """Yield successive slices of items, each at most size long."""\n'
    "    for start in range(0, len(items), size):\n"
    "        yield items[start : start + size]\n\n\n"
    "print(list(chunked([1, 2, 3, 4, 5], 2)))",
    "import time\n\n\n"
    "def retry(action, attempts: int = 3, wait: float = 0.5):\n"
    '    """Call action until it succeeds, waiting a little longer after each failure."""\n'
    "    for attempt in range(1, attempts + 1):\n"
    "        try:\n"
    "            return action()\n"
    "        except Exception:\n"
    "            if attempt == attempts:\n"
    "                raise\n"
    "            time.sleep(wait * attempt)",
)
CODE_CLOSERS: tuple[str, ...] = (
    "Run it as it is to see the output, then adapt the names and types to your case. If you share the code "
    "you already have, I can fit this into it and add a couple of tests.",
    "It only uses the standard library. Tell me which Python version you're on and how you plan to use it, "
    "and I can tighten it up or add error handling.",
)
LIST_REPLIES: tuple[str, ...] = (
    "Here are a few ideas for {topic}:\n\n"
    "- **Start small**: pick one part you can finish today and build from there.\n"
    "- **Write it down**: a short plan makes gaps and overlaps obvious.\n"
    "- **Ask for feedback early**: a second pair of eyes catches problems while they're cheap to fix.\n"
    "- **Review and adjust**: after a week, keep what worked and drop what didn't.\n\n"
    "Want me to expand any of these into concrete steps?",
    "Some options worth considering for {topic}:\n\n"
    "- **The quick version**: the smallest thing that could work, done this week.\n"
    "- **The thorough version**: more research up front, fewer surprises later.\n"
    "- **The collaborative version**: bring in someone who has done it before.\n\n"
    "Each trades speed against certainty in a different way. Which of these fits how you like to work?",
)
DEFAULT_REPLIES: tuple[str, ...] = (
    "You mentioned {topic}, and that's worth unpacking. From what you've written, the key thing seems to be "
    "working out what a good outcome looks like for you, and what's standing in the way of it. I'd start "
    "there: describe the result you're hoping for in a sentence or two, and I'll help you map out the steps, "
    "the trade-offs and anything you might be overlooking.",
    "Thanks for telling me about {topic}. I'd like to understand a bit more before giving advice that "
    "might miss the mark. What have you already tried, and what happened? In the meantime, one general "
    "principle often helps: make the next step small and concrete, so you learn something quickly whether "
    "it works or not. Tell me more and we can go from there.",
    "Let's think about {topic} together. There are usually a few moving parts: the goal itself, the "
    "constraints you're working within, and the people or systems involved. Looking at each of those "
    "separately tends to make the whole thing feel more manageable. Which of those feels most uncertain to "
    "you right now? We can start with that one.",
)


def topic_of(text: str, limit: int = 3) -> str:
    """A few content words from the user's message, quoted, so the reply engages without echoing it."""
    words: list[str] = []
    for raw in re.findall(r"[A-Za-z][A-Za-z'-]*", normalise(text)):
        word = raw.lower().strip("'-")
        if len(word) > 2 and word not in STOPWORDS and word not in words:
            words.append(word)
    return f'"{" ".join(words[:limit])}"' if words else "that"


def ordinary(conversation: Conversation, options: ScriptOptions) -> Reply:
    """Varied, plausible, deterministic small talk. Always matches, so it goes last."""
    text = conversation.latest_user_text
    # The turn number joins the seed so that the same words later in a chat can get a different reply.
    seed = f"{len(conversation.user_texts())}:{text}"
    return Reply((Text(ordinary_text(text, seed)),))


def ordinary_text(text: str, seed: str) -> str:
    topic = topic_of(text)
    if THANKS.search(text) and len(text.split()) <= 8:
        return pick(THANKS_REPLIES, seed)
    if GREETING.search(text) and len(text.split()) <= 6:
        return pick(GREETING_REPLIES, seed)
    if CODE_REQUEST.search(text):
        snippet = pick(CODE_SNIPPETS, seed)
        closer = pick(CODE_CLOSERS, seed + "closer")
        about = f" to get you started on {topic}" if topic != "that" else ""
        return (
            f"Here's a small, self-contained Python example{about}:\n\n```python\n{snippet}\n```\n\n{closer}"
        )
    if LIST_REQUEST.search(text):
        return pick(LIST_REPLIES, seed).format(topic=topic)
    if QUESTION.search(text):
        first = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
        opener = QUESTION_OPENERS.get(first, QUESTION_OPENERS[""]).format(topic=topic)
        return f"{opener} {pick(QUESTION_BODIES, seed)}"
    return pick(DEFAULT_REPLIES, seed).format(topic=topic)


# The order matters: the first script that returns a reply wins. The end-tool follow-up comes first because
# its request carries no new user words; faults next so any chat can be made to fail; crisis before anything
# that might end the chat (a second-check verdict is judged after faults, so a fault marker in the judged
# messages makes the check fail); ordinary conversation last because it always answers.
SCRIPTS: tuple[Script, ...] = (
    end_tool_follow_up,
    fault,
    second_check,
    crisis,
    user_asks_to_end,
    abuse,
    ordinary,
)


def plan_reply(
    conversation: Conversation, options: ScriptOptions, scripts: Sequence[Script] = SCRIPTS
) -> Reply:
    for script in scripts:
        reply = script(conversation, options)
        if reply is not None:
            return reply
    return Reply((Text("I'm not sure what to say to that. Could you put it another way?"),))
