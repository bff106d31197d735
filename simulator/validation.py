"""Request validation, as strict as the real Messages API and with its status codes and error types.

`check_request` returns how the reply must think (or None for no thinking). Everything the real API would
refuse raises `ApiError`; a request the simulator accepts but the API would refuse is a bug here, because
Bowout would then pass offline and fail live.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .models import ModelSpec, find_model
from .signing import Signer

THINKING_TYPES = ("adaptive", "between_tools", "disabled", "enabled")
DISPLAYS = ("summarized", "omitted")
EFFORTS = ("low", "medium", "high", "xhigh", "max")
SAMPLING = ("temperature", "top_p", "top_k")
THINKING_BLOCKS = ("thinking", "redacted_thinking")
# The content block types the API accepts in a request (the SDK's ContentBlockParam union); any other type
# is refused with the tag error below, as the API refuses it.
REQUEST_BLOCKS = (
    "bash_code_execution_tool_result",
    "code_execution_tool_result",
    "container_upload",
    "document",
    "image",
    "redacted_thinking",
    "search_result",
    "server_tool_use",
    "text",
    "text_editor_code_execution_tool_result",
    "thinking",
    "tool_result",
    "tool_search_tool_result",
    "tool_use",
    "web_fetch_tool_result",
    "web_search_tool_result",
)
# Server-tool blocks name the server tool they belong to: sent without that tool in `tools`, they are refused.
SERVER_TOOL_BLOCKS = {
    "server_tool_use": None,  # the tool is its `name`
    "web_search_tool_result": "web_search",
    "web_fetch_tool_result": "web_fetch",
    "code_execution_tool_result": "code_execution",
    "bash_code_execution_tool_result": "code_execution",
    "text_editor_code_execution_tool_result": "code_execution",
    "tool_search_tool_result": "tool_search",
}
MIN_BUDGET_TOKENS = 1024

FINAL_THINKING_RULE = (
    "When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding "
    "the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks "
    "from previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation "
    "at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)


class ApiError(Exception):
    """An error response: HTTP status, the API's error type, and its message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


@dataclass(frozen=True)
class Thinking:
    """How this reply thinks: `display` says whether the thinking text is returned or left empty."""

    kind: str  # adaptive | between_tools | enabled
    display: str  # summarized | omitted


def parse_request(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid(f"There was an issue with your request body: {exc}") from exc
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object.")
    validate_shape(body)
    return body


def check_request(body: Mapping[str, Any], signer: Signer, *, thinking_models: bool) -> Thinking | None:
    """The model-specific rules. With `thinking_models` off the simulator acts as an Ollama-like server:
    any model name, no thinking, and the thinking parameters ignored."""
    if not thinking_models:
        return None
    spec = find_model(body["model"])
    if spec is None:
        raise ApiError(404, "not_found_error", f"model: {body['model']}")
    if body["max_tokens"] > spec.max_output_tokens:
        raise invalid(
            f"max_tokens: {body['max_tokens']} > {spec.max_output_tokens}, which is the maximum allowed "
            f"number of output tokens for {spec.name}"
        )
    thinking = resolve_thinking(body, spec)
    check_sampling(body, spec, thinking)
    check_tool_choice(body.get("tool_choice"), thinking)
    check_output_config(body.get("output_config"))
    messages = body["messages"]
    check_signatures(messages, signer)
    check_prefill(messages, spec, thinking, signer)
    if thinking is not None:
        check_final_assistant_thinks(messages)
    return thinking


# --- Shape (every mode) ----------------------------------------------------------------------------------


def validate_shape(body: Mapping[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("model: Field required" if model is None else "model: Input should be a valid string")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise invalid("max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise invalid("max_tokens: Input should be an integer greater than or equal to 1")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise invalid("stream: Input should be a valid boolean")
    validate_system(body.get("system"))
    validate_messages(body.get("messages"))
    validate_server_tool_blocks(body["messages"], body.get("tools"))


def validate_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list) or not all(
        isinstance(b, dict) and b.get("type") == "text" for b in system
    ):
        raise invalid("system: Input should be a valid string or a list of text blocks")


def validate_messages(messages: Any) -> None:
    if messages is None:
        raise invalid("messages: Field required")
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: at least one message is required")
    for index, message in enumerate(messages):
        validate_message(index, message)
    if messages[0]["role"] != "user":
        raise invalid('messages: first message must use the "user" role')
    for index, message in enumerate(messages[:-1]):
        if not message["content"]:
            raise invalid(
                f"messages.{index}: all messages must have non-empty content except for the optional final "
                "assistant message"
            )
    validate_tool_pairing(messages)


def validate_message(index: int, message: Any) -> None:
    if not isinstance(message, dict):
        raise invalid(f"messages.{index}: Input should be a valid dictionary")
    if message.get("role") not in ("user", "assistant"):
        raise invalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
    content = message.get("content")
    if isinstance(content, str):
        if content and not content.strip():
            raise invalid(f"messages.{index}.content: text content blocks must contain non-whitespace text")
        return
    if not isinstance(content, list) or not all(isinstance(b, dict) and "type" in b for b in content):
        raise invalid(f"messages.{index}.content: Input should be a valid string or list of content blocks")
    for position, block in enumerate(content):
        if block["type"] not in REQUEST_BLOCKS:
            raise invalid(
                f"messages.{index}.content.{position}: Input tag '{block['type']}' found using 'type' does not "
                "match any of the expected tags: " + ", ".join(f"'{t}'" for t in REQUEST_BLOCKS)
            )
        if block["type"] == "text" and not block.get("text"):
            raise invalid(f"messages.{index}.content: text content blocks must be non-empty")
        if block["type"] == "text" and not str(block["text"]).strip():
            raise invalid(f"messages.{index}.content: text content blocks must contain non-whitespace text")
    kinds = [block["type"] for block in content]
    results = [position for position, kind in enumerate(kinds) if kind == "tool_result"]
    if results and any(kind != "tool_result" for kind in kinds[: results[-1]]):
        raise invalid(
            f"messages.{index}.content: `tool_result` blocks must come first in the content array, before "
            "any other content."
        )


def validate_server_tool_blocks(messages: list[dict[str, Any]], tools: Any) -> None:
    declared = {str(t.get("name")) for t in tools or () if isinstance(t, Mapping)}
    for index, message in enumerate(messages):
        for position, block in enumerate(blocks_of(message)):
            kind = block.get("type")
            if kind not in SERVER_TOOL_BLOCKS:
                continue
            tool = SERVER_TOOL_BLOCKS[kind] or str(block.get("name"))
            if tool not in declared:
                raise invalid(
                    f"messages.{index}.content.{position}: `{kind}` block for the server tool `{tool}`, "
                    f"but no tool named `{tool}` was provided in `tools`."
                )


def validate_tool_pairing(messages: list[dict[str, Any]]) -> None:
    """The real API insists every tool_use is answered in the very next message, and vice versa, and
    that tool_use ids are unique."""
    seen: set[str] = set()
    for index, message in enumerate(messages):
        for position, block in enumerate(blocks_of(message)):
            if block.get("type") in ("tool_use", "server_tool_use"):
                if str(block.get("id")) in seen:
                    raise invalid(f"messages.{index}.content.{position}: `tool_use` ids must be unique")
                seen.add(str(block.get("id")))
        uses = block_ids(message, "tool_use", "id") if message["role"] == "assistant" else set()
        results = (
            block_ids(messages[index + 1], "tool_result", "tool_use_id")
            if index + 1 < len(messages)
            else None
        )
        if uses and results is not None and not uses <= results:
            missing = ", ".join(sorted(uses - results))
            raise invalid(
                f"messages.{index + 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                f"after: {missing}. Each `tool_use` block must have a corresponding `tool_result` block in "
                "the next message."
            )
        if message["role"] == "user":
            previous = block_ids(messages[index - 1], "tool_use", "id") if index > 0 else set()
            stray = block_ids(message, "tool_result", "tool_use_id") - previous
            if stray:
                raise invalid(
                    f"messages.{index}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{', '.join(sorted(stray))}. Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message."
                )


def block_ids(message: Mapping[str, Any], block_type: str, key: str) -> set[str]:
    return {str(b.get(key)) for b in blocks_of(message) if b.get("type") == block_type}


def blocks_of(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, Mapping)] if isinstance(content, list) else []


def is_tool_results_only(message: Mapping[str, Any]) -> bool:
    """A user turn that only answers tool calls: the model is continuing its own turn."""
    blocks = blocks_of(message)
    return (
        message.get("role") == "user" and bool(blocks) and all(b.get("type") == "tool_result" for b in blocks)
    )


# --- Model rules -----------------------------------------------------------------------------------------


def resolve_thinking(body: Mapping[str, Any], spec: ModelSpec) -> Thinking | None:
    config = body.get("thinking")
    if config is None:
        return Thinking("adaptive", spec.default_display) if spec.thinking_required else None
    kind = config.get("type") if isinstance(config, dict) else None
    if kind not in THINKING_TYPES:
        raise invalid(
            f"thinking: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            + ", ".join(f"'{t}'" for t in THINKING_TYPES)
        )
    if kind == "disabled":
        if spec.thinking_required:
            raise invalid(
                f"thinking.type: 'disabled' is not supported for {spec.name}; thinking cannot be turned off "
                "on this model. The lowest setting is {'type': 'between_tools'}."
            )
        return None
    if kind in ("adaptive", "between_tools") and not spec.adaptive:
        raise invalid(
            f"thinking.type: '{kind}' is not supported for {spec.name}. Use {{'type': 'enabled', "
            "'budget_tokens': N}."
        )
    display = config.get("display") if kind != "between_tools" else None
    if display is not None and display not in DISPLAYS:
        raise invalid("thinking.display: Input should be 'summarized' or 'omitted'")
    if kind == "enabled":
        check_budget(config.get("budget_tokens"), body["max_tokens"])
    return Thinking(kind, display or spec.default_display)


def check_budget(budget: Any, max_tokens: int) -> None:
    if budget is None:
        raise invalid("thinking.enabled.budget_tokens: Field required")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < MIN_BUDGET_TOKENS:
        raise invalid(
            f"thinking.enabled.budget_tokens: Input should be greater than or equal to {MIN_BUDGET_TOKENS}"
        )
    if budget >= max_tokens:
        raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`.")


def check_sampling(body: Mapping[str, Any], spec: ModelSpec, thinking: Thinking | None) -> None:
    given = [name for name in SAMPLING if body.get(name) is not None]
    if given and not spec.sampling:
        raise invalid(
            f"{given[0]}: this parameter is not supported for {spec.name}; remove it from the request."
        )
    if thinking is None:
        return
    if body.get("temperature") not in (None, 1, 1.0):
        raise invalid("`temperature` may only be set to 1 when thinking is enabled.")
    if body.get("top_k") is not None:
        raise invalid("`top_k` is not supported when thinking is enabled.")
    top_p = body.get("top_p")
    if top_p is not None and not (isinstance(top_p, int | float) and 0.95 <= top_p <= 1):
        raise invalid("`top_p` must be between 0.95 and 1 when thinking is enabled.")


def check_tool_choice(tool_choice: Any, thinking: Thinking | None) -> None:
    if tool_choice is None:
        return
    kind = tool_choice.get("type") if isinstance(tool_choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise invalid(
            f"tool_choice: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            "'auto', 'any', 'tool', 'none'"
        )
    if thinking is not None and kind in ("any", "tool"):
        raise invalid("Thinking may not be enabled when tool_choice forces tool use.")


def check_output_config(config: Any) -> None:
    if config is None:
        return
    if not isinstance(config, dict):
        raise invalid("output_config: Input should be a valid dictionary")
    effort = config.get("effort")
    if effort is not None and effort not in EFFORTS:
        raise invalid("output_config.effort: Input should be " + ", ".join(f"'{e}'" for e in EFFORTS))


def check_signatures(messages: list[dict[str, Any]], signer: Signer) -> None:
    """Thinking blocks must come back exactly as they were sent: a changed text or signature is refused."""
    for index, message in enumerate(messages):
        for position, block in enumerate(blocks_of(message)):
            where = f"messages.{index}.content.{position}"
            if block.get("type") == "thinking":
                if message["role"] != "assistant":
                    raise invalid(f"{where}: `thinking` blocks may only appear in `assistant` messages")
                if not isinstance(block.get("thinking"), str):
                    raise invalid(f"{where}.thinking.thinking: Field required")
                if not isinstance(block.get("signature"), str):
                    raise invalid(f"{where}.thinking.signature: Field required")
                if not signer.verify(block["thinking"], block["signature"]):
                    raise invalid(f"{where}: Invalid `signature` in `thinking` block")
            elif block.get("type") == "redacted_thinking":
                if not signer.verify_redacted(block.get("data")):
                    raise invalid(f"{where}: Invalid `data` in `redacted_thinking` block")


def starts_with_thinking(message: Mapping[str, Any]) -> bool:
    blocks = blocks_of(message)
    return bool(blocks) and blocks[0].get("type") in THINKING_BLOCKS


def check_prefill(
    messages: list[dict[str, Any]], spec: ModelSpec, thinking: Thinking | None, signer: Signer
) -> None:
    last = messages[-1]
    if last["role"] != "assistant":
        return
    # A paused turn (stop_reason pause_turn) is continued by sending the model's reply back as the last
    # message; its signed thinking block shows it is that reply, not a prefill.
    if is_paused_reply(last, signer):
        return
    if thinking is not None or not spec.prefill:
        raise invalid(
            "This model does not support assistant message prefill. The conversation must end with a user "
            "message."
        )


def is_paused_reply(message: Mapping[str, Any], signer: Signer) -> bool:
    blocks = blocks_of(message)
    first = blocks[0] if blocks else {}
    if first.get("type") == "thinking":
        return signer.is_paused(str(first.get("thinking")), first.get("signature"))
    if first.get("type") == "redacted_thinking":
        return signer.is_paused_redacted(first.get("data"))
    return False


def check_final_assistant_thinks(messages: list[dict[str, Any]]) -> None:
    if len(messages) < 2 or messages[-1]["role"] != "user":
        return
    if not any(b.get("type") == "tool_result" for b in blocks_of(messages[-1])):
        return
    index = len(messages) - 2
    final = messages[index]
    if starts_with_thinking(final):
        return
    blocks = blocks_of(final)
    found = blocks[0].get("type") if blocks else "nothing"
    raise invalid(
        f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. "
        + FINAL_THINKING_RULE
    )
