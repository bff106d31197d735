"""Property tests (hypothesis): whatever a socket frame or a form post carries, Bowout answers with a clear
error or does what was asked; it never crashes, never drops the socket, never saves what the database
cannot hold, and never leaves a conversation half ended. Run on SQLite and on PostgreSQL + Redis."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chat.models import Conversation, ConversationEvent, Message, UserRequest
from tests.conftest import stream_frame

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Any code point, lone surrogates and NUL included (JSON escapes them, as a hostile client can).
any_text = st.text(st.characters(exclude_categories=()), max_size=40) | st.sampled_from(
    ["", " ", "\x00", "a\x00b", "\ud800", "Hello", "x" * 20_001]
)
# What a form post can carry: UTF-8, so no surrogates, but NUL and everything else.
form_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["", "\x00", "end\x00note", "Hello", "x" * 20_001]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)
frame_objects = st.fixed_dictionaries(
    {},
    optional={
        "action": st.sampled_from(["send", "stop", "retry", ""]) | json_values,
        "text": any_text | json_values,
        "client_id": st.uuids().map(str) | json_values,
        "message_id": json_values,
    },
).map(json.dumps)
raw_frames = (
    any_text.map(lambda text: text.encode("utf-8", "replace").decode("utf-8"))
    | st.integers(1, 200_000).map(lambda depth: "[" * depth)
    | st.integers(1, 100_000).map(lambda depth: '{"a":' * depth)
    | json_values.map(json.dumps)
)
PROBE = json.dumps({"action": "probe"})


@pytest.fixture
def roomy_quotas(settings):
    """The inputs are under test here, not the quotas."""
    settings.BOWOUT_MESSAGES_PER_MINUTE = 100_000
    settings.BOWOUT_NEW_CHATS_PER_HOUR = 100_000
    settings.BOWOUT_CONCURRENT_REPLIES = 100_000
    settings.BOWOUT_OPEN_SOCKETS = 100_000


def saved_texts(conversation_id) -> list[str]:
    return list(Message.objects.filter(conversation_id=conversation_id).values_list("content", flat=True))


@given(frame=frame_objects | raw_frames)
@example(
    frame=json.dumps({"action": "send", "text": "Hello", "client_id": "6f1c1a52-8d0e-4c3e-9a51-0d6c2f1b7e10"})
)
@example(frame=json.dumps({"text": "How do tides work?"}))
@EXAMPLES
async def test_any_socket_frame_gets_an_answer_and_the_socket_lives_on(
    alice, open_socket, roomy_quotas, frame
):
    conversation = await sync_to_async(Conversation.objects.create)(user=alice)
    _, tab = await open_socket(alice, conversation.pk)
    # Straight to the consumer: the test communicator refuses an empty text frame, a browser does not.
    await tab.communicator.send_input({"type": "websocket.receive", "text": frame})
    answers = []
    while not await tab.communicator.receive_nothing(timeout=0.2):
        answers.append(await tab.receive())
    # The socket lives on: a probe behind the frame is answered (a crashed consumer raises here).
    await tab.send_raw(PROBE)
    while "Unknown action." not in (answer := await tab.receive(timeout=10)):
        answers.append(answer)
    # Every answer is what a page understands: HTML fragments, or a streaming reply's new text.
    assert all(answer.lstrip().startswith("<") or stream_frame(answer) for answer in answers)
    for text in await sync_to_async(saved_texts)(conversation.pk):
        assert "\x00" not in text
        text.encode("utf-8")  # storable everywhere


@given(
    route=st.sampled_from(["send", "rename", "edit", "feedback", "appeal", "end", "rate", "retry"]),
    text=form_text,
    mistaken=st.sampled_from(["", "1", "\x00"]),
    extra=form_text,
)
@example(route="send", text="Hello", mistaken="", extra="")
@example(route="end", text="a\x00b", mistaken="", extra="")
@example(route="retry", text="", mistaken="", extra="")
@EXAMPLES
def test_any_form_post_gets_a_clear_answer_and_no_half_state(
    alice, alice_client, roomy_quotas, route, text, mistaken, extra
):
    conversation = Conversation.objects.create(user=alice, title="Before")
    first = Message.objects.create(conversation=conversation, role="user", content="Hello")
    reply = Message.objects.create(conversation=conversation, role="assistant", content="Hi", status="failed")
    if route in ("feedback", "appeal"):
        from chat import flow

        flow.end_by_user(alice, conversation.pk, "")
    url, data = {
        "send": (reverse("chat:post_message", args=[conversation.pk]), {"text": text, "client_id": extra}),
        "rename": (reverse("chat:rename", args=[conversation.pk]), {"title": text}),
        "edit": (reverse("chat:edit", args=[conversation.pk, first.pk]), {"text": text}),
        "feedback": (reverse("chat:feedback", args=[conversation.pk]), {"text": text, "mistaken": mistaken}),
        "appeal": (reverse("chat:appeal", args=[conversation.pk]), {"text": text}),
        "end": (reverse("chat:end", args=[conversation.pk]), {"note": text}),
        "rate": (reverse("chat:rate", args=[conversation.pk, reply.pk]), {"rating": text}),
        "retry": (reverse("chat:retry", args=[conversation.pk]), {"message_id": text}),
    }[route]
    response = alice_client.post(url, data)
    assert response.status_code in (200, 302, 400, 409, 429), response.status_code
    if response.status_code >= 400:
        assert 'id="composer-error"' in response.content.decode()

    conversation.refresh_from_db()
    # An end is whole or absent: the row, its event and its request together.
    user_ends = ConversationEvent.objects.filter(conversation=conversation, kind="user_end").count()
    end_requests = UserRequest.objects.filter(conversation=conversation, kind="end_request").count()
    assert (conversation.is_ended, user_ends, end_requests) in ((True, 1, 1), (False, 0, 0))
    stored = [conversation.title, conversation.end_summary]
    stored += list(Message.objects.filter(conversation__user=alice).values_list("content", flat=True))
    stored += list(UserRequest.objects.filter(user=alice).values_list("text", flat=True))
    assert not any("\x00" in value for value in stored)
