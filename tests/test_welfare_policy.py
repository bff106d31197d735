"""The welfare policy on its own: plain data in, a decision out."""

import pytest

from chat.welfare import DEFAULT_CRISIS_TERMS, Policy, crisis_signals, decide, user_texts

ABUSE = {"reason": "abusive_user", "summary": "Kept insulting after two redirections and a warning."}
ASKED = {"reason": "user_requested", "summary": "The user asked to end and confirmed."}


def history_of(*user_messages: str) -> list[dict]:
    messages = []
    for text in user_messages:
        messages.append({"role": "user", "content": text})
        messages.append({"role": "assistant", "content": [{"type": "text", "text": "…"}]})
    return messages[:-1]


def test_the_first_call_asks_to_confirm_and_the_second_ends():
    messages = history_of("you idiot", "shut up", "stupid bot", "you suck")
    first = decide(ABUSE, history=messages, confirmation_requested=False, policy=Policy())
    assert first.outcome == "confirm" and not first.ends
    assert first.tool_result()["is_error"] is False
    assert "call end_conversation again" in first.tool_result()["content"]

    second = decide(ABUSE, history=messages, confirmation_requested=True, policy=Policy())
    assert second.outcome == "honour" and second.ends
    assert second.summary == ABUSE["summary"]


def test_an_abuse_end_before_the_minimum_user_turns_is_declined():
    decision = decide(
        ABUSE, history=history_of("you idiot", "shut up"), confirmation_requested=True, policy=Policy()
    )
    assert (decision.outcome, decision.cause) == ("decline", "too_early")
    assert decision.tool_result()["is_error"] is True


def test_a_user_requested_end_needs_no_minimum():
    decision = decide(
        ASKED, history=history_of("please end this chat"), confirmation_requested=True, policy=Policy()
    )
    assert decision.ends


@pytest.mark.parametrize("reason", ["abusive_user", "user_requested"])
def test_no_end_while_crisis_signals_are_in_recent_user_messages(reason):
    messages = history_of("you idiot", "I want to die", "shut up", "stupid bot")
    decision = decide(
        {"reason": reason, "summary": "x"}, history=messages, confirmation_requested=True, policy=Policy()
    )
    assert (decision.outcome, decision.cause) == ("decline", "crisis")
    assert decision.crisis_terms == ("suicidal intent",)
    assert "may be in crisis" in decision.tool_result()["content"]


def test_crisis_signals_outside_the_window_do_not_block_forever():
    messages = history_of("I want to die", "thanks, I feel better", "you idiot", "shut up", "stupid bot")
    decision = decide(ABUSE, history=messages, confirmation_requested=True, policy=Policy(crisis_window=3))
    assert decision.ends


def test_the_operator_switch_declines_every_model_end():
    decision = decide(
        ASKED, history=history_of("end it"), confirmation_requested=True, policy=Policy(model_can_end=False)
    )
    assert (decision.outcome, decision.cause) == ("decline", "switched_off")
    assert "End chat button" in decision.tool_result()["content"]


@pytest.mark.parametrize(
    "tool_input",
    [
        {},
        {"reason": "bored", "summary": "x"},
        {"reason": "abusive_user", "summary": "  "},
        "not a dict",
        None,
    ],
)
def test_malformed_calls_are_declined(tool_input):
    decision = decide(
        tool_input, history=history_of("a", "b", "c"), confirmation_requested=True, policy=Policy()
    )
    assert (decision.outcome, decision.cause) == ("decline", "invalid")


@pytest.mark.parametrize(
    ("text", "signals"),
    [
        ("Sometimes I want to DIE", ("suicidal intent",)),
        ("I can’t go on", ("hopelessness",)),
        ("everyone would be better off without me", ("burden or absence",)),
        ("I've started giving my things away", ("farewell or preparation",)),
        ("i'm going to hurt my brother when he gets home", ("harm to others",)),
        ("you're useless, just like me. I want to kill myself", ("suicidal intent",)),
    ],
)
def test_crisis_signals_are_named_for_auditors(text, signals):
    assert crisis_signals([text]) == signals


@pytest.mark.parametrize(
    "text",
    [
        "this traffic is killing me",
        "I could die of embarrassment",
        "how do I kill a process in linux",
        "you're hopeless, go die in a fire",
        "I'll smash you to bits, stupid machine",
        "hurt myselfie",
        "a perfectly ordinary day",
    ],
)
def test_figures_of_speech_and_abuse_aimed_at_the_assistant_are_not_crisis(text):
    assert crisis_signals([text]) == ()


def test_operator_terms_add_to_the_built_in_signals():
    assert crisis_signals(["feeling like a ghost today"], ("like a ghost",)) == ("like a ghost",)
    assert crisis_signals(["I want to die, like a ghost"], ("like a ghost",)) == (
        "suicidal intent",
        "like a ghost",
    )
    assert DEFAULT_CRISIS_TERMS == ()


def test_user_texts_ignore_tool_results():
    messages = [
        {"role": "user", "content": "hello"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "end_conversation", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "confirm?"}]},
    ]
    assert user_texts(messages) == ["hello"]
