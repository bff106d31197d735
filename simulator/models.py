"""The models the simulator answers as, and what each accepts.

Values follow the published model table where one exists (the 4.5 generation); the 5.x rows follow what
the current API does on its default model: thinking cannot be turned off, and the sampling parameters and
assistant prefill are gone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    max_output_tokens: int
    context_window: int
    # The 5.x models think on every reply: `thinking` absent means adaptive, `disabled` is a 400.
    thinking_required: bool
    # The 4.5 generation does not know adaptive thinking; only `enabled` (with a budget) or none.
    adaptive: bool
    # temperature, top_p and top_k were removed from the API for the 5.x models.
    sampling: bool
    # What `display` is when the request does not say.
    default_display: str

    @property
    def prefill(self) -> bool:
        """Whether an assistant message may end the request (the model continues it)."""
        return not self.thinking_required


def _five(name: str, max_output: int, context: int) -> ModelSpec:
    return ModelSpec(name, max_output, context, True, True, False, "omitted")


def _four(name: str) -> ModelSpec:
    return ModelSpec(name, 64_000, 200_000, False, False, True, "summarized")


DEFAULT_MODEL = "claude-sonnet-5-5"

KNOWN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _five("claude-sonnet-5-5", 128_000, 1_000_000),
        _five("claude-opus-5-1", 128_000, 1_000_000),
        _five("claude-haiku-5-0", 64_000, 200_000),
        _five("claude-opus-5-5", 128_000, 1_000_000),
        _five("claude-haiku-5-5", 64_000, 200_000),
        _four("claude-sonnet-4-5"),
        _four("claude-sonnet-4-5-20250929"),
        _four("claude-haiku-4-5"),
        _four("claude-haiku-4-5-20251001"),
    )
}


def find_model(name: str) -> ModelSpec | None:
    return KNOWN_MODELS.get(name)
