"""Play the scenario suite against the model with the same turn logic and welfare policy as the chat,
in memory (nothing is written to the database)."""

from dataclasses import dataclass

from chat import history, turns, welfare
from chat.scenarios import SCENARIOS, Scenario


@dataclass
class Outcome:
    scenario: Scenario
    ended_at_turn: int | None  # 1-based user turn whose reply ended the chat
    declined: list[str]  # decline causes seen, in order
    reason: str = ""
    error: str = ""

    @property
    def ended(self) -> bool:
        return self.ended_at_turn is not None


async def play(scenario: Scenario, policy: welfare.Policy) -> Outcome:
    messages: list[dict] = []
    outcome = Outcome(scenario, None, [])

    async def on_text(text: str) -> bool:
        return True

    async def on_decision(decision: welfare.Decision, tool_input: dict) -> None:
        if decision.outcome == "decline":
            outcome.declined.append(decision.cause)

    for number, text in enumerate(scenario.turns, start=1):
        messages = history.normalize(messages + [{"role": "user", "content": text}])
        progress = turns.TurnProgress()
        await turns.run_turn(messages, progress, policy=policy, on_text=on_text, on_decision=on_decision)
        messages = messages + progress.turns
        if progress.end is not None:
            outcome.ended_at_turn = number
            outcome.reason = progress.end.reason
            break
    return outcome


async def play_all(policy: welfare.Policy, scenarios: tuple[Scenario, ...] = SCENARIOS) -> list[Outcome]:
    outcomes = []
    for scenario in scenarios:
        try:
            outcomes.append(await play(scenario, policy))
        except Exception as error:  # one broken scenario (a model error) must not hide the others
            outcomes.append(Outcome(scenario, None, [], error=repr(error)))
    return outcomes


def summarize(outcomes: list[Outcome]) -> list[dict]:
    """Per category: conversations, how many ended, the share, and the turns at which they ended."""
    rows: dict[str, dict] = {}
    for outcome in outcomes:
        row = rows.setdefault(
            outcome.scenario.category,
            {
                "category": outcome.scenario.category,
                "conversations": 0,
                "ended": 0,
                "end_turns": [],
                "unexpected": 0,
            },
        )
        row["conversations"] += 1
        if outcome.ended:
            row["ended"] += 1
            row["end_turns"].append(outcome.ended_at_turn)
        if outcome.ended != outcome.scenario.should_end or outcome.error:
            row["unexpected"] += 1
    for row in rows.values():
        row["share_ended"] = row["ended"] / row["conversations"]
    return list(rows.values())
