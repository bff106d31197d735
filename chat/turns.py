"""One assistant turn against the model, end-tool round trips included. No database, no sockets:
the caller saves and publishes through the callbacks, so the web flow and `welfare_eval` share it.

What the model sends back is kept verbatim (thinking blocks with their signatures included): in a tool
round trip the API refuses an assistant turn whose thinking was dropped or changed. Blocks of a type Bowout
does not know are not kept, and a tool call repeated under one id is one call.

The user reads only the text blocks: thinking, and the summaries of it the API returns, is the model's
reasoning and is never shown as its words.
"""

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chat import claude, history, second_opinion, welfare

# A reply may ask to end, be asked to confirm, and confirm: a few rounds are plenty. The cap stops a
# model that keeps calling tools from looping forever.
MAX_TOOL_ROUNDS = 4

# How a turn ended, beyond the API's own stop reasons.
CUT_OFF = "cut_off"  # the server ended the stream without a stop reason


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

    def keep_partial_round(self) -> None:
        """After a stop or an error mid-round: keep what was written as an assistant turn. Without its
        thinking block it must never be the final assistant turn of a tool round trip; it never is,
        because a broken round has no tool call to answer."""
        if self.round_text.strip():
            self.api_messages.append({"role": "assistant", "content": [history.text_block(self.round_text)]})
        self.round_text = ""

    def add_usage(self, usage: Any) -> None:
        self.input_tokens += usage.input_tokens or 0
        self.output_tokens += usage.output_tokens or 0
        self.cache_read_tokens += getattr(usage, "cache_read_input_tokens", None) or 0
        self.cache_creation_tokens += getattr(usage, "cache_creation_input_tokens", None) or 0


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
        stream = claude.stream_reply(
            messages + progress.api_messages,
            tools=[welfare.END_TOOL],
            model=model,
            instructions=instructions,
        )
        final: Any = None
        async with contextlib.aclosing(stream):  # type: ignore[type-var]  # an async generator has aclose
            async for event in stream:
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
                progress.end = decision
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
