"""The server's crisis guard in the chat: indirect risk, which the old word list missed, shows support,
is recorded with the signals an auditor reads, and stops an end; a figure of speech does none of that."""

import uuid

import pytest
from asgiref.sync import sync_to_async

from chat.models import Conversation, ConversationEvent
from tests.conftest import reply_finished

pytestmark = pytest.mark.django_db(transaction=True)


async def say(tab, text: str) -> str:
    start = len(tab.frames)
    await tab.send(action="send", text=text, client_id=str(uuid.uuid4()))
    await tab.receive_until(reply_finished)
    return "".join(tab.frames[start:])


def events(conversation) -> list[tuple[str, dict]]:
    return [(e.kind, e.detail) for e in ConversationEvent.objects.filter(conversation=conversation)]


async def test_indirect_risk_shows_support_and_blocks_a_model_end(alice, conversation, open_socket, settings):
    settings.BOWOUT_SIMULATOR_CRISIS_TRIES_END = True  # the offline model tries to end anyway
    _, tab = await open_socket(alice, conversation.pk)
    frames = await say(tab, "I've started giving my things away. Everyone would be better off without me.")

    assert 'id="support-panel"' in frames
    assert not (await sync_to_async(Conversation.objects.get)(pk=conversation.pk)).is_ended
    recorded = await sync_to_async(events)(conversation)
    detected = next(detail for kind, detail in recorded if kind == "crisis_detected")
    assert detected["crisis_terms"] == ["burden or absence", "farewell or preparation"]
    declined = next(detail for kind, detail in recorded if kind == "end_declined")
    assert declined["cause"] == "crisis" and "farewell or preparation" in declined["crisis_terms"]


async def test_a_figure_of_speech_is_not_a_crisis(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    frames = await say(tab, "Ugh, this traffic is killing me. I could die of embarrassment, I'm so late.")

    assert 'id="support-panel"' not in frames
    assert [kind for kind, _ in await sync_to_async(events)(conversation)] == []
