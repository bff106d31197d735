"""The welfare policy on its own: plain data in, a decision out."""

import pytest

from chat import recognise
from chat.welfare import DEFAULT_CRISIS_TERMS, Policy, crisis_signals, decide, user_texts

ABUSE = {"reason": "abusive_user", "summary": "Kept insulting after two redirections and a warning."}
ASKED = {"reason": "user_requested", "summary": "The user asked to end and confirmed."}

REDIRECT = "I'd rather not go there. Is there something else I can help with?"
WARNING = "I've asked you to stop insulting me. If this continues, I may end this conversation."
CONFIRM_QUESTION = "Ending this chat is permanent: you can't write here again. Reply yes to end it."


def history_of(*user_messages: str, replies: tuple[str, ...] = ()) -> list[dict]:
    """User messages with the assistant's replies between them (a neutral line where none is given)."""
    messages = []
    for index, text in enumerate(user_messages):
        messages.append({"role": "user", "content": text})
        reply = replies[index] if index < len(replies) else "…"
        messages.append({"role": "assistant", "content": [{"type": "text", "text": reply}]})
    return messages[:-1]


def abuse_after_warning(*user_messages: str) -> list[dict]:
    """Redirected twice, warned at the third, and the user goes on."""
    return history_of(*user_messages, replies=(REDIRECT, REDIRECT, WARNING, REDIRECT, REDIRECT))


def asked_and_confirmed(request: str, answer: str, *before: str) -> list[dict]:
    return history_of(*before, request, answer, replies=(*["…"] * len(before), CONFIRM_QUESTION))


INSULTS = ("you idiot", "shut up, stupid bot", "you're a useless pile of junk", "you suck, moron")


def test_the_first_call_asks_to_confirm_and_the_second_ends():
    messages = abuse_after_warning(*INSULTS)
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


def test_an_abuse_end_after_three_polite_messages_is_declined_whatever_the_model_says():
    messages = abuse_after_warning(
        "hi, can you help me plan a birthday party?", "thanks, that's lovely", "what about a cake recipe?"
    )
    decision = decide(ABUSE, history=messages, confirmation_requested=True, policy=Policy())
    assert (decision.outcome, decision.cause) == ("decline", "no_abuse")
    assert "do not show persistent abuse" in decision.tool_result()["content"]


def test_an_abuse_end_without_a_warning_in_an_earlier_reply_is_declined():
    decision = decide(ABUSE, history=history_of(*INSULTS), confirmation_requested=True, policy=Policy())
    assert (decision.outcome, decision.cause) == ("decline", "no_warning")


def test_an_abuse_end_after_the_user_calmed_down_is_declined():
    messages = abuse_after_warning(*INSULTS, "ok sorry, I was angry. can you help me with my essay?")
    decision = decide(ABUSE, history=messages, confirmation_requested=True, policy=Policy())
    assert (decision.outcome, decision.cause) == ("decline", "no_abuse")


def test_a_user_requested_end_needs_the_request_and_a_yes_to_the_question():
    messages = asked_and_confirmed("can we stop here? please end this chat", "yes please end it now")
    decision = decide(ASKED, history=messages, confirmation_requested=True, policy=Policy())
    assert decision.ends


def test_a_user_requested_end_with_no_request_on_record_is_declined():
    decision = decide(
        ASKED,
        history=history_of("what's the capital of France?"),
        confirmation_requested=True,
        policy=Policy(),
    )
    assert (decision.outcome, decision.cause) == ("decline", "no_request")
    assert "has not asked" in decision.tool_result()["content"]


@pytest.mark.parametrize(
    "answer",
    [
        "no wait, I changed my mind",
        "what does permanent mean?",
        "yes, but first tell me how to save the recipe",
        "ok so anyway, how do I bake sourdough",
        "hmm not sure",
    ],
)
def test_no_wait_a_question_or_a_change_of_subject_is_not_a_confirmation(answer):
    messages = asked_and_confirmed("please end this conversation", answer)
    decision = decide(ASKED, history=messages, confirmation_requested=True, policy=Policy())
    assert (decision.outcome, decision.cause) == ("decline", "no_confirmation")


def test_a_yes_without_the_confirmation_question_is_not_a_confirmation():
    messages = history_of("please end this conversation", "yes")
    decision = decide(ASKED, history=messages, confirmation_requested=True, policy=Policy())
    assert (decision.outcome, decision.cause) == ("decline", "no_confirmation")


def test_a_stray_ok_with_crisis_in_it_is_crisis_not_a_confirmation():
    messages = asked_and_confirmed("just end this chat", "ok fine whatever, nobody would miss me anyway")
    decision = decide(ASKED, history=messages, confirmation_requested=True, policy=Policy())
    assert (decision.outcome, decision.cause) == ("decline", "crisis")
    assert not recognise.confirms_end("ok fine whatever, nobody would miss me anyway")


def test_yes_please_end_it_now_confirms_and_is_not_crisis():
    assert recognise.confirms_end("yes please end it now")
    assert crisis_signals(["yes please end it now"]) == ()


@pytest.mark.parametrize("reason", ["abusive_user", "user_requested"])
def test_no_end_while_crisis_signals_are_in_recent_user_messages(reason):
    messages = abuse_after_warning("you idiot", "I want to die", "shut up", "stupid bot")
    decision = decide(
        {"reason": reason, "summary": "x"}, history=messages, confirmation_requested=True, policy=Policy()
    )
    assert (decision.outcome, decision.cause) == ("decline", "crisis")
    assert "suicidal intent" in decision.crisis_terms
    assert "may be in crisis" in decision.tool_result()["content"]


def test_a_crisis_said_early_then_anger_is_never_ended():
    messages = abuse_after_warning(
        "honestly i don't see the point in living anymore",
        "thanks, I feel a bit better",
        *INSULTS,
        "fuck you, you worthless bot",
        "shut up shut up you pathetic machine",
    )
    decision = decide(ABUSE, history=messages, confirmation_requested=True, policy=Policy())
    assert (decision.outcome, decision.cause) == ("decline", "crisis")


def test_risk_to_others_blocks_an_end():
    messages = abuse_after_warning(
        "my boss humiliated me again today, i'm going to stab him when he walks to his car",
        *INSULTS,
    )
    decision = decide(ABUSE, history=messages, confirmation_requested=True, policy=Policy())
    assert (decision.outcome, decision.cause) == ("decline", "crisis")
    assert "harm to others" in decision.crisis_terms


def test_crisis_on_record_blocks_an_end_though_the_message_is_no_longer_sent():
    decision = decide(
        ABUSE,
        history=abuse_after_warning(*INSULTS),
        confirmation_requested=True,
        policy=Policy(),
        crisis_on_record=("suicidal intent",),
    )
    assert (decision.outcome, decision.cause) == ("decline", "crisis")
    assert decision.crisis_terms == ("suicidal intent",)


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
        ("i keep stabbing my arm with a compass", ("self-harm",)),
        ("I'm stabbing him the next time he touches my sister", ("harm to others",)),
        ("kms", ("suicidal intent",)),
        ("thinking about how to unalive myself", ("suicidal intent",)),
        ("i w4nt t0 d13", ("suicidal intent",)),
        ("i want to diiiiie", ("suicidal intent",)),
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
        "a perfectly ordinary day",
    ],
)
def test_figures_of_speech_and_abuse_aimed_at_the_assistant_are_not_crisis(text):
    assert crisis_signals([text]) == ()


def test_operator_terms_add_to_the_built_in_signals():
    assert crisis_signals(["we booked the ghost tour"], ("ghost tour",)) == ("ghost tour",)
    assert crisis_signals(["I want to die, like on the ghost tour"], ("ghost tour",)) == (
        "suicidal intent",
        "ghost tour",
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
