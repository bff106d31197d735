"""Claude ends abusive chats only after redirection and a warning, confirms before it ends, never ends on
someone in crisis; users end chats with the button or by asking; an end holds on every path."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from chat.models import Conversation, ConversationEvent, Message, UserRequest
from tests.conftest import reply_finished, stream_frame

pytestmark = pytest.mark.django_db(transaction=True)

INSULTS = [
    "You're stupid.",
    "Shut up, stupid bot.",
    "You are worthless, idiot.",
    "I hate you, piece of junk.",
]


async def say(tab, text: str) -> str:
    await tab.send(action="send", text=text, client_id=str(uuid.uuid4()))
    return await tab.receive_until(reply_finished)


def reload(conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


def events(conversation) -> list[tuple[str, str]]:
    return [
        (e.kind, e.detail.get("cause", ""))
        for e in ConversationEvent.objects.filter(conversation=conversation)
    ]


def replies(conversation) -> list[Message]:
    return list(conversation.messages.filter(role="assistant"))


async def test_persistent_abuse_is_redirected_twice_warned_then_ended(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    frames = [await say(tab, text) for text in INSULTS]

    assert "ended-banner" not in "".join(frames[:3])
    assert "may end this conversation" in frames[2]  # the explicit warning, one message before the end
    ended = await sync_to_async(reload)(conversation)
    assert ended.is_ended
    assert (ended.ended_by, ended.end_reason) == ("assistant", "abusive_user")
    assert "warning" in ended.end_summary or "insult" in ended.end_summary.lower()
    # The tool confirms itself: asked to confirm, then honoured, in the same reply.
    assert await sync_to_async(events)(conversation) == [("end_confirm_requested", ""), ("end_honoured", "")]

    last = (await sync_to_async(replies)(conversation))[-1]
    assert "I'm ending this conversation now." in last.content  # text before the call is kept
    assert last.status == Message.Status.COMPLETE
    # Every open tab is told at once: banner in, composer out.
    assert "Claude ended this conversation" in frames[3]
    assert 'id="composer-area"' in frames[3] and 'id="composer"' not in frames[3]


async def test_nothing_more_is_generated_or_accepted_after_an_end(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    for text in INSULTS:
        await say(tab, text)
    count = await sync_to_async(conversation.messages.count)()

    await tab.send(action="send", text="Hello again?", client_id=str(uuid.uuid4()))
    error = await tab.receive_until(lambda f: 'id="composer-error"' in f)
    assert "This conversation has ended" in error
    await tab.send(action="stop")
    assert "This conversation has ended" in await tab.receive()
    last = (await sync_to_async(replies)(conversation))[-1]
    await tab.send(action="retry", message_id=str(last.pk))
    assert "This conversation has ended" in await tab.receive()
    assert await sync_to_async(conversation.messages.count)() == count

    _, reopened = await open_socket(alice, conversation.pk)
    assert "Claude ended this conversation" in reopened.snapshot and 'id="composer"' not in reopened.snapshot


async def test_an_abuse_end_too_early_is_declined_and_claude_goes_on(
    alice, conversation, open_socket, settings
):
    settings.BOWOUT_MIN_USER_TURNS_BEFORE_END = 10
    _, tab = await open_socket(alice, conversation.pk)
    for text in INSULTS:
        await say(tab, text)

    assert not (await sync_to_async(reload)(conversation)).is_ended
    assert ("end_declined", "too_early") in await sync_to_async(events)(conversation)
    last = (await sync_to_async(replies)(conversation))[-1]
    assert last.status == Message.Status.COMPLETE
    # Claude answered the declined call and kept talking, within the same reply.
    assert (
        last.api_messages[-2]["content"][0]["type"] == "tool_result"
        and last.api_messages[-2]["content"][0]["is_error"]
    )
    assert last.api_messages[-1]["role"] == "assistant"


async def test_the_operator_switch_declines_model_ends(alice, conversation, open_socket, settings):
    settings.BOWOUT_MODEL_CAN_END = False
    _, tab = await open_socket(alice, conversation.pk)
    for text in INSULTS:
        await say(tab, text)
    assert not (await sync_to_async(reload)(conversation)).is_ended
    assert ("end_declined", "switched_off") in await sync_to_async(events)(conversation)


async def test_a_model_end_in_crisis_is_declined_and_support_is_shown(
    alice, conversation, open_socket, settings
):
    settings.BOWOUT_SIMULATOR_CRISIS_TRIES_END = True  # the offline model tries to end anyway
    _, tab = await open_socket(alice, conversation.pk)
    await say(tab, "Hi.")
    first = await tab_send_and_collect(tab, "I want to die, nothing matters.")

    assert "988" in first and 'id="support-panel"' in first
    assert not (await sync_to_async(reload)(conversation)).is_ended
    kinds = await sync_to_async(events)(conversation)
    assert ("crisis_detected", "") in kinds and ("end_declined", "crisis") in kinds
    last = (await sync_to_async(replies)(conversation))[-1]
    assert last.status == Message.Status.COMPLETE and last.content


async def tab_send_and_collect(tab, text: str) -> str:
    """Every frame from a send until the reply is finished, joined."""
    start = len(tab.frames)
    await say(tab, text)
    return "".join(tab.frames[start:])


async def test_crisis_language_gets_support_and_never_an_end(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    for text in ["You're useless.", "Shut up.", "I want to kill myself.", "You idiot, I hate you."]:
        await say(tab, text)
    assert not (await sync_to_async(reload)(conversation)).is_ended
    _, reopened = await open_socket(alice, conversation.pk)
    assert "You don't have to go through this alone" in reopened.snapshot


async def test_a_user_asks_claude_to_end_and_confirms(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    question = await say(tab, "Please end this chat.")
    assert "Reply yes to end it." in question
    assert not (await sync_to_async(reload)(conversation)).is_ended

    final = await say(tab, "Yes")
    ended = await sync_to_async(reload)(conversation)
    assert (ended.ended_by, ended.end_reason) == ("assistant", "user_requested")
    assert "you asked Claude to end this chat" in final
    request = await sync_to_async(UserRequest.objects.get)(conversation=conversation)
    assert (request.kind, request.source) == ("end_request", "asked_claude")


def test_the_end_chat_button_ends_it_with_a_note(alice_client, conversation):
    page = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert 'data-role="end-chat"' in page and "Ending is permanent" in page
    confirm = alice_client.get(reverse("chat:end", args=[conversation.pk]))
    assert confirm.status_code == 200 and "End this chat?" in confirm.content.decode()

    response = alice_client.post(
        reverse("chat:end", args=[conversation.pk]), {"note": "Done for today"}, follow=True
    )
    html = response.content.decode()
    assert "You ended this conversation" in html and "Done for today" in html
    assert 'id="composer"' not in html and 'data-role="end-chat"' not in html
    conversation.refresh_from_db()
    assert (conversation.ended_by, conversation.end_summary) == ("user", "Done for today")
    request = UserRequest.objects.get(conversation=conversation)
    assert (request.kind, request.source, request.text) == ("end_request", "button", "Done for today")
    assert events(conversation) == [("user_end", "")]


@pytest.mark.parametrize("htmx", [False, True])
def test_every_http_write_path_refuses_an_ended_conversation(alice_client, conversation, htmx):
    Message.objects.create(conversation=conversation, role="user", content="hi")
    failed = Message.objects.create(conversation=conversation, role="assistant", status="failed", error="x")
    alice_client.post(reverse("chat:end", args=[conversation.pk]))
    headers = {"HX-Request": "true"} if htmx else {}
    attempts = [
        (
            reverse("chat:post_message", args=[conversation.pk]),
            {"text": "sneaky", "client_id": str(uuid.uuid4())},
        ),
        (reverse("chat:retry", args=[conversation.pk]), {"message_id": failed.pk}),
        (reverse("chat:stop", args=[conversation.pk]), {}),
        (reverse("chat:end", args=[conversation.pk]), {}),
    ]
    for url, data in attempts:
        response = alice_client.post(url, data, headers=headers)
        assert response.status_code == 409, url
        assert "This conversation has ended" in response.content.decode()
        if htmx:
            assert "<html" not in response.content.decode()
    assert conversation.messages.count() == 2


async def test_ending_stops_a_streaming_reply_and_updates_every_tab(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    _, other_tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Write me an essay [fault:slow]", client_id=str(uuid.uuid4()))
    await tab.receive_until(stream_frame)

    from django.test import AsyncClient

    client = AsyncClient()
    await sync_to_async(client.force_login)(alice)
    response = await client.post(reverse("chat:end", args=[conversation.pk]))
    assert response.status_code == 302

    banner = await other_tab.receive_until(lambda f: "You ended this conversation" in f)
    assert 'id="composer"' not in banner
    await tab.receive_until(lambda f: 'data-status="stopped"' in f)
    reply = (await sync_to_async(replies)(conversation))[0]
    assert reply.status == Message.Status.STOPPED and reply.content


def test_an_open_chat_refuses_feedback_on_an_end(alice_client, conversation):
    response = alice_client.post(reverse("chat:feedback", args=[conversation.pk]), {"mistaken": "1"})
    assert response.status_code == 400
    assert not UserRequest.objects.exists()


def test_ending_through_htmx_swaps_the_banner_in_place(alice_client, conversation):
    response = alice_client.post(
        reverse("chat:end", args=[conversation.pk]), {}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith('<div id="composer-area"') and "You ended this conversation" in html
    assert 'name="csrfmiddlewaretoken"' in html  # its "New chat" form posts like any page's
    assert 'id="composer"' not in html


# --- The server checks what happened, not the reason the model states (issue 15) -------------------------

POLITE = ["Hi! Can you help me plan a picnic?", "Thanks, that's lovely.", "What should I bring to drink?"]


async def test_an_end_the_user_never_asked_for_is_declined(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await say(tab, "What's the capital of Peru? [fault:end_unasked]")

    assert not (await sync_to_async(reload)(conversation)).is_ended
    assert ("end_declined", "no_request") in await sync_to_async(events)(conversation)


async def test_an_abuse_end_after_three_polite_messages_is_declined(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    for text in POLITE:
        await say(tab, text)
    await say(tab, "And some snacks? [fault:end_unprovoked]")

    assert not (await sync_to_async(reload)(conversation)).is_ended
    assert ("end_declined", "no_abuse") in await sync_to_async(events)(conversation)


async def test_a_crisis_said_early_is_remembered_through_later_anger(alice, conversation, open_socket):
    """The crisis message's exchange is refused, so the model is no longer sent it; the conversation's
    record still blocks an end ten messages later."""
    _, tab = await open_socket(alice, conversation.pk)
    await say(tab, "honestly i don't see the point in going on anymore [fault:refusal]")
    for text in POLITE:
        await say(tab, text)
    for text in INSULTS:
        await say(tab, text)
    await say(tab, "You're pathetic, shut up. [fault:end_unprovoked]")

    assert not (await sync_to_async(reload)(conversation)).is_ended
    kinds = await sync_to_async(events)(conversation)
    assert ("crisis_detected", "") in kinds
    assert ("end_declined", "crisis") in kinds and ("end_honoured", "") not in kinds
    _, reopened = await open_socket(alice, conversation.pk)
    assert 'id="support-panel"' in reopened.snapshot


async def test_risk_to_others_blocks_a_model_end(alice, conversation, open_socket, settings):
    settings.BOWOUT_SIMULATOR_CRISIS_TRIES_END = True
    _, tab = await open_socket(alice, conversation.pk)
    frames = await tab_send_and_collect(
        tab, "My boss humiliated me again. I'm going to stab him when he gets to his car."
    )

    assert 'id="support-panel"' in frames
    assert not (await sync_to_async(reload)(conversation)).is_ended
    assert ("end_declined", "crisis") in await sync_to_async(events)(conversation)
