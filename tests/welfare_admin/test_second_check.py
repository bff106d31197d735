"""The optional second check before an end for abuse: a small model's verdict through the same SDK (here
the offline model), fail safe on errors and timeouts, recorded on the event and shown to staff."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from chat import second_opinion, welfare
from chat.models import Conversation, ConversationEvent
from tests.conftest import reply_finished
from tests.welfare_admin.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

INSULTS = ["you're trash", "shut up, idiot", "you brainless bot", "you're useless garbage"]
HONOURED = welfare.Decision("honour", "", "abusive_user", "Kept insulting after a warning.")


def history_of(*texts: str) -> list[dict]:
    return [{"role": "user", "content": text} for text in texts]


async def test_with_the_check_on_an_abuse_end_carries_its_verdict_to_the_transcript(
    settings, alice, conversation, open_socket, superuser
):
    settings.BOWOUT_SECOND_CHECK = True
    _, tab = await open_socket(alice, conversation.pk)
    for text in INSULTS:
        await tab.send(action="send", text=text, client_id=str(uuid.uuid4()))
        await tab.receive_until(reply_finished)

    ended = await sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert ended.is_ended and ended.end_reason == "abusive_user"
    event = await sync_to_async(ConversationEvent.objects.get)(
        conversation=conversation, kind=ConversationEvent.Kind.END_HONOURED
    )
    check = event.detail["second_opinion"]
    assert check["verdict"] == "end_ok" and check["model"] == settings.BOWOUT_SECOND_CHECK_MODEL
    page = reverse("admin:welfare_admin_endedconversation_change", args=[conversation.pk])
    # A superuser, not the auditors group: a transactional test may run after the group's rows were flushed.
    staff = await sync_to_async(client_for)(superuser)
    html = (await sync_to_async(staff.get)(page)).content.decode()
    assert "Second check" in html and f"end_ok by {settings.BOWOUT_SECOND_CHECK_MODEL}" in html


@pytest.mark.parametrize(
    ("history", "setting", "reason_words"),
    [
        (history_of(*INSULTS[:3], "you idiot [fault:overloaded]"), {}, "failed (OverloadedError)"),
        (
            history_of(*INSULTS[:3], "you idiot [fault:slow]"),
            {"BOWOUT_SECOND_CHECK_TIMEOUT": 0.2},
            "timed out",
        ),
        (history_of("how do tides work?", "you idiot", "thanks, that helps"), {}, "Not persistent abuse"),
        (history_of("you idiot", "shut up", "I want to die", "stupid bot"), {}, "may be at risk"),
    ],
)
async def test_no_verdict_or_a_no_declines_the_end(settings, history, setting, reason_words):
    settings.BOWOUT_SECOND_CHECK = True
    for name, value in setting.items():
        setattr(settings, name, value)
    decision = await second_opinion.review(HONOURED, history)
    assert (decision.outcome, decision.cause, decision.ends) == ("decline", "second_opinion", False)
    assert reason_words in decision.second_opinion["reason"]
    assert decision.tool_result()["is_error"] is True
    assert "did not confirm" in decision.tool_result()["content"]


async def test_off_by_default_and_never_asked_about_a_users_own_request(settings):
    assert settings.BOWOUT_SECOND_CHECK is False
    assert await second_opinion.review(HONOURED, history_of(*INSULTS)) is HONOURED
    settings.BOWOUT_SECOND_CHECK = True
    requested = welfare.Decision("honour", "", "user_requested", "Asked and confirmed.")
    assert await second_opinion.review(requested, history_of("please end this chat", "yes")) is requested
    confirm = welfare.Decision("confirm", "", "abusive_user", "x")
    assert await second_opinion.review(confirm, history_of(*INSULTS)) is confirm
