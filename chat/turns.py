"""One assistant turn against the model, end-tool round trips included. No database, no sockets:
the caller saves and publishes through the callbacks, so the web flow and `welfare_eval` share it."""

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chat import claude, history, welfare

# A reply may ask to end, be asked to confirm, and confirm: a few rounds are plenty. The cap stops a
# model that keeps calling tools from looping forever.
MAX_TOOL_ROUNDS = 4


@dataclass
class TurnProgress:
    text: str = ""
    turns: list[dict[str, Any]] = field(default_factory=list)
    round_text: str = ""  # text of the model round in progress, not yet in `turns`
    stop_reason: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    end: welfare.Decision | None = None

    def keep_partial_round(self) -> None:
        """After a stop or an error mid-round: keep what was written as an assistant turn."""
        if self.round_text.strip():
            self.turns.append({"role": "assistant", "content": [history.text_block(self.round_text)]})
        self.round_text = ""


OnText = Callable[[str], Awaitable[bool]]
OnDecision = Callable[[welfare.Decision, dict[str, Any]], Awaitable[None]]


def _assistant_turn(content: list[Any]) -> dict[str, Any]:
    blocks = []
    for block in content:
        if block.type == "text" and block.text:
            blocks.append(history.text_block(block.text))
        elif block.type == "tool_use":
            blocks.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
    return {"role": "assistant", "content": blocks}


async def run_turn(
    messages: list[dict[str, Any]],
    progress: TurnProgress,
    *,
    policy: welfare.Policy,
    on_text: OnText,
    on_decision: OnDecision,
) -> bool:
    """Run the turn, filling `progress`. `on_text` gets the whole text so far and returns False to stop;
    returns False when stopped that way, True when the model finished (or the conversation ended)."""
    confirmation_requested = False
    for _ in range(MAX_TOOL_ROUNDS + 1):
        if progress.text and not progress.text.endswith("\n\n"):
            separator = "\n\n"
        else:
            separator = ""
        stream = claude.stream_reply(messages + progress.turns, tools=[welfare.END_TOOL])
        final = None
        async with contextlib.aclosing(stream):
            async for event in stream:
                if isinstance(event, claude.Finished):
                    final = event.message
                    continue
                progress.text += separator + event.text
                progress.round_text += event.text
                separator = ""
                if not await on_text(progress.text):
                    return False
        progress.round_text = ""
        progress.stop_reason = final.stop_reason or ""
        progress.input_tokens += final.usage.input_tokens
        progress.output_tokens += final.usage.output_tokens
        progress.turns.append(_assistant_turn(final.content))
        if final.stop_reason != "tool_use":
            return True
        results = []
        for block in final.content:
            if block.type != "tool_use":
                continue
            if block.name != welfare.END_TOOL_NAME:
                results.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": block.id,
                        "content": "Unknown tool.",
                        "is_error": True,
                    }
                )
                continue
            decision = welfare.decide(
                block.input, history=messages, confirmation_requested=confirmation_requested, policy=policy
            )
            await on_decision(decision, dict(block.input) if isinstance(block.input, dict) else {})
            confirmation_requested = confirmation_requested or decision.outcome == "confirm"
            results.append({"type": "tool_result", "tool_use_id": block.id, **decision.tool_result()})
            if decision.ends:
                progress.end = decision
        progress.turns.append({"role": "user", "content": results})
        if progress.end is not None:
            return True
    return True
