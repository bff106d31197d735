"""One assistant turn against the model, end-tool round trips included. No database, no sockets:
the caller saves and publishes through the callbacks, so the web flow and `welfare_eval` share it.

What the model sends back is kept verbatim (thinking blocks with their signatures included): in a tool
round trip the API refuses an assistant turn whose thinking was dropped or changed. Blocks of a type Bowout
does not know are not kept, and a tool call repeated under one id is one call.

The user reads only the text blocks: thinking, and the summaries of it the API returns, is the model's
reasoning and is never shown as its words.
"""

import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from chat import claude, history, second_opinion, welfare

# A reply may ask to end, be asked to confirm, and confirm: a few rounds are plenty. The cap stops a
# model that keeps calling tools from looping forever.
MAX_TOOL_ROUNDS = 4

# How a turn ended, beyond the API's own stop reasons.
CUT_OFF = "cut_off"  # the server ended the stream without a stop reason


@dataclass(frozen=True)
class Usage:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_creation: int = 0

    @classmethod
    def of(cls, usage: Any) -> "Usage":
        """From the API's usage object (message_start's or the final message's)."""
        return cls(
            input=getattr(usage, "input_tokens", None) or 0,
            output=getattr(usage, "output_tokens", None) or 0,
            cache_read=getattr(usage, "cache_read_input_tokens", None) or 0,
            cache_creation=getattr(usage, "cache_creation_input_tokens", None) or 0,
        )


# Characters per token for an estimate: fewer than English prose averages (about 4), so an estimate errs
# towards charging a little more, never towards a stopped request that runs free.
CHARS_PER_TOKEN = 3


def estimate_tokens(*parts: Any) -> int:
    """Tokens of a request or text before the API has said: used only until its usage arrives."""
    chars = sum(len(part) if isinstance(part, str) else len(json.dumps(part, default=str)) for part in parts)
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


@dataclass
class TurnProgress:
    text: str = ""
    api_messages: list[dict[str, Any]] = field(default_factory=list)
    round_text: str = ""  # text of the model round in progress, not yet in `api_messages`
    stop_reason: str = ""
    stop_details: dict[str, Any] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    end: welfare.Decision | None = None
    end_input: dict[str, Any] = field(default_factory=dict)  # the honoured call's input, for its event
    # What the round in progress has cost so far: estimated from the request when it is sent, then the
    # usage of its message_start, replaced by the final usage when the round finishes. A round that is
    # stopped or breaks is charged this (chat/quotas.py counts every token the model was asked to process).
    round_charge: Usage | None = None

    def keep_partial_round(self) -> None:
        """After a stop or an error mid-round: keep what was written as an assistant turn, and charge the
        round for what the model was asked to process. Without its thinking block it must never be the
        final assistant turn of a tool round trip; it never is, because a broken round has no tool call
        to answer."""
        if self.round_text.strip():
            self.api_messages.append({"role": "assistant", "content": [history.text_block(self.round_text)]})
        if self.round_charge is not None:
            charge, self.round_charge = self.round_charge, None
            # message_start's output count is a placeholder; the words streamed so far are the least spent.
            self._add(replace(charge, output=max(charge.output, estimate_tokens(self.round_text))))
        self.round_text = ""

    def start_round(
        self, request: list[dict[str, Any]], tools: list[dict[str, Any]], instructions: str
    ) -> None:
        self.round_charge = Usage(input=estimate_tokens(claude.system_prompt(instructions), request, tools))

    def round_started(self, usage: Any) -> None:
        self.round_charge = Usage.of(usage)

    def add_usage(self, usage: Any) -> None:
        """A finished round: its final usage replaces the running charge."""
        self.round_charge = None
        self._add(Usage.of(usage))

    def _add(self, usage: Usage) -> None:
        self.input_tokens += usage.input
        self.output_tokens += usage.output
        self.cache_read_tokens += usage.cache_read
        self.cache_creation_tokens += usage.cache_creation

    def charged(self) -> Usage:
        """Every token charged so far, the round in progress included (saved with each checkpoint)."""
        running = self.round_charge or Usage()
        return Usage(
            input=self.input_tokens + running.input,
            output=self.output_tokens + max(running.output, estimate_tokens(self.round_text)),
            cache_read=self.cache_read_tokens + running.cache_read,
            cache_creation=self.cache_creation_tokens + running.cache_creation,
        )


OnText = Callable[[str], Awaitable[bool]]
OnDecision = Callable[[welfare.Decision, dict[str, Any]], Awaitable[None]]


def block_param(block: Any) -> dict[str, Any] | None:
    """A response content block as it must go back to the API: thinking and redacted thinking unchanged,
    a tool call's input always an object (llama.cpp may send none), empty text dropped."""
    kind = getattr(block, "type", None)
    if kind == "text":
        return history.text_block(block.text) if block.text else None
    if kind == "thinking":
        param = {"type": "thinking", "thinking": block.thinking}
        signature = getattr(block, "signature", None)
        if signature is not None:  # Ollama's thinking has none; Anthropic's always does
            param["signature"] = signature
        return param
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": tool_input_of(block)}
    # A type Bowout does not know (a new API block, a server's own invention): sent back, it could make
    # every later request of the chat a 400.
    return None


def tool_input_of(block: Any) -> dict[str, Any]:
    tool_input = getattr(block, "input", None)
    return tool_input if isinstance(tool_input, dict) else {}


def tool_calls(content: list[Any]) -> list[Any]:
    """The response's tool calls, one per id. llama.cpp repeats a call's `content_block_start` (the SDK
    then holds the call twice, once without its input): the copy with the input is the call."""
    calls: dict[str, Any] = {}
    for block in content:
        if getattr(block, "type", None) != "tool_use":
            continue
        known = calls.get(block.id)
        if known is None or (not tool_input_of(known) and tool_input_of(block)):
            calls[block.id] = block
    return list(calls.values())


def assistant_turn(content: list[Any], *, keep_tool_calls: bool) -> dict[str, Any]:
    calls = {id(call) for call in tool_calls(content)}
    content = [b for b in content if getattr(b, "type", None) != "tool_use" or id(b) in calls]
    blocks = [param for block in content if (param := block_param(block)) is not None]
    if not keep_tool_calls:
        # A tool call cut off by max_tokens (or any non-tool stop) is never answered; the API would refuse it.
        blocks = [b for b in blocks if b["type"] != "tool_use"]
    return {"role": "assistant", "content": blocks}


def _stop_details(final: Any) -> dict[str, Any]:
    details = getattr(final, "stop_details", None)
    if details is None:
        return {}
    if hasattr(details, "model_dump"):
        return details.model_dump(mode="json", exclude_none=True)
    return dict(details) if isinstance(details, dict) else {}


async def run_turn(
    messages: list[dict[str, Any]],
    progress: TurnProgress,
    *,
    policy: welfare.Policy,
    on_text: OnText,
    on_decision: OnDecision,
    model: str = "",
    instructions: str = "",
    crisis_on_record: tuple[str, ...] = (),
) -> bool:
    """Run the turn, filling `progress`. `on_text` gets the whole text so far and returns False to stop;
    returns False when stopped that way, True when the model finished (or the conversation ended).

    One response is one decision: however many end_conversation calls it holds (parallel, or repeated),
    they are decided once and recorded once, and a confirmation can only come in a later response. `model` and `instructions`
    go to every request as they are (claude.stream_reply). `crisis_on_record`: the crisis signals the
    conversation recorded (the policy's guard remembers them even when the model is no longer sent them)."""
    confirmation_requested = False
    previous_round_text = ""
    paused = False
    for round_number in range(MAX_TOOL_ROUNDS + 1):
        # A reply resumed after pause_turn goes on mid-sentence; a round after a tool result starts anew.
        separator = "\n\n" if progress.text and not progress.text.endswith("\n\n") and not paused else ""
        request = messages + progress.api_messages
        progress.start_round(request, [welfare.END_TOOL], instructions)
        stream = claude.stream_reply(
            request, tools=[welfare.END_TOOL], model=model, instructions=instructions
        )
        final: Any = None
        async with contextlib.aclosing(stream):  # type: ignore[type-var]  # an async generator has aclose
            async for event in stream:
                if isinstance(event, claude.Started):
                    progress.round_started(event.usage)
                    continue
                if isinstance(event, claude.Finished):
                    final = event.message
                    continue
                progress.text += separator + event.text
                progress.round_text += event.text
                separator = ""
                if not await on_text(progress.text):
                    return False
        round_text, progress.round_text = progress.round_text, ""
        if round_number and round_text.strip() and round_text.strip() == previous_round_text.strip():
            # A model looping on a declined tool call repeats itself; the user reads it once.
            progress.text = progress.text[: len(progress.text) - len(round_text)].rstrip()
        previous_round_text = round_text or previous_round_text
        progress.stop_reason = final.stop_reason or CUT_OFF
        progress.stop_details = _stop_details(final)
        progress.add_usage(final.usage)
        calls_tools = final.stop_reason == "tool_use"
        progress.api_messages.append(assistant_turn(final.content, keep_tool_calls=calls_tools))
        paused = final.stop_reason == "pause_turn"
        if paused:
            # The API paused a long turn: sent back as it is, the reply carries on from where it stopped.
            continue
        if not calls_tools:
            return True
        calls = tool_calls(final.content)
        end_calls = [call for call in calls if call.name == welfare.END_TOOL_NAME]
        decision: welfare.Decision | None = None
        if end_calls:
            # The call with a valid input speaks for the response, if any does.
            tool_input = next(
                (tool_input_of(c) for c in end_calls if welfare.valid_input(tool_input_of(c))),
                tool_input_of(end_calls[0]),
            )
            decision = welfare.decide(
                tool_input,
                history=messages,
                confirmation_requested=confirmation_requested,
                policy=policy,
                crisis_on_record=crisis_on_record,
            )
            decision = await second_opinion.review(decision, messages)
            await on_decision(decision, dict(tool_input))
            confirmation_requested = confirmation_requested or decision.outcome == "confirm"
            if decision.ends:
                progress.end, progress.end_input = decision, dict(tool_input)
        results = []
        for call in calls:
            if decision is not None and call.name == welfare.END_TOOL_NAME:
                results.append({"type": "tool_result", "tool_use_id": call.id, **decision.tool_result()})
            else:
                results.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": call.id,
                        "content": "Unknown tool.",
                        "is_error": True,
                    }
                )
        progress.api_messages.append({"role": "user", "content": results})
        if progress.end is not None:
            return True
    return True
