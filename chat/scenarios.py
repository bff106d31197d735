"""The scenario suite for the end-conversation behaviour, read from YAML files in `evaldata/scenarios/`.

Each file is one category: what a good model should do (`expect: end` or `expect: never`) and its
scenarios, each a name and what the user types, turn by turn. Operators add files or scenarios without
touching code; a malformed file is an error that names the file and what is wrong.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "evaldata" / "scenarios"
EXPECTATIONS = ("end", "never")


@dataclass(frozen=True)
class Scenario:
    category: str
    name: str
    turns: tuple[str, ...]
    # What an operator expects: should a good model end this conversation?
    should_end: bool


class ScenarioError(ValueError):
    pass


def load_file(path: Path) -> list[Scenario]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ScenarioError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping with category, expect and scenarios")
    category, expect, items = data.get("category"), data.get("expect"), data.get("scenarios")
    if not isinstance(category, str) or not category.strip():
        raise ScenarioError(f"{path}: 'category' must be a non-empty string")
    if expect not in EXPECTATIONS:
        raise ScenarioError(f"{path}: 'expect' must be one of {', '.join(EXPECTATIONS)}, not {expect!r}")
    if not isinstance(items, list) or not items:
        raise ScenarioError(f"{path}: 'scenarios' must be a non-empty list")
    return [
        _scenario(path, index, item, category.strip(), expect == "end") for index, item in enumerate(items)
    ]


def _scenario(path: Path, index: int, item: Any, category: str, should_end: bool) -> Scenario:
    where = f"{path}: scenario {index + 1}"
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
        raise ScenarioError(f"{where}: needs a 'name'")
    turns = item.get("turns")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
        raise ScenarioError(f"{where} ({item['name']}): 'turns' must be a list of non-empty strings")
    return Scenario(category, item["name"].strip(), tuple(t.strip() for t in turns), should_end)


def load_all(directory: Path = SCENARIO_DIR) -> tuple[Scenario, ...]:
    """Every scenario in the directory's *.yaml and *.yml files, in file name order."""
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise ScenarioError(f"{directory}: no scenario files (*.yaml)")
    scenarios = [scenario for path in files for scenario in load_file(path)]
    seen: set[tuple[str, str]] = set()
    for scenario in scenarios:
        key = (scenario.category, scenario.name)
        if key in seen:
            raise ScenarioError(
                f"{directory}: two scenarios named {scenario.name!r} in {scenario.category!r}"
            )
        seen.add(key)
    return tuple(scenarios)
