"""Deleting an account: the person's data goes, what staff need to audit ends stays without them for
BOWOUT_AUDIT_RETENTION_DAYS, then the purge removes it. The account page, the admin and the shell all follow
the same rule, and no cascade can remove an audit entry."""

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from chat.models import Conversation, ConversationEvent, Message, UserRequest
from tests.conftest import PASSWORD
from tests.welfare_admin import builders
from welfare_admin.models import AuditEntry, ImmutableAuditEntry
from welfare_admin.permissions import AUDITORS_GROUP

pytestmark = pytest.mark.django_db

ALICE = "alice@example.com"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """allauth counts attempts in the cache, by user id; ids come back after a rollback."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def auditor(make_user):
    user = make_user("welfare-auditor@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name=AUDITORS_GROUP))
    return user


@pytest.fixture
def superuser(make_user):
    return make_user("root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def history(alice, auditor):
    """Alice's chats: an ordinary one, one Claude ended that she appealed (unreviewed), one reviewed."""
    ordinary = builders.conversation(alice, title="Tides", texts=["How do tides work?"])
    appealed = builders.ended(alice, title="Ended and appealed", texts=["you are useless"])
    builders.request(appealed, UserRequest.Kind.APPEAL, text="I was joking")
    reviewed = builders.ended(alice, title="Ended and reviewed")
    builders.review(auditor, reviewed)
    return ordinary, appealed, reviewed


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _nothing_left_of_alice() -> None:
    assert not User.objects.filter(email=ALICE).exists()
    assert not EmailAddress.objects.filter(email=ALICE).exists()
    assert not Message.objects.filter(content="How do tides work?").exists()


def _audit_kept(appealed: Conversation, reviewed: Conversation) -> None:
    appealed.refresh_from_db()
    assert appealed.user.email == f"deleted-{appealed.user_id}@deleted.invalid"
    assert appealed.user.first_name == "" and not appealed.user.is_active
    assert appealed.messages.filter(content="you are useless").exists()
    assert appealed.events.filter(kind=ConversationEvent.Kind.END_HONOURED).exists()
    assert appealed.requests.filter(kind=UserRequest.Kind.APPEAL, text="I was joking").exists()
    assert AuditEntry.objects.filter(conversation=reviewed).count() == 1


# --- The account page --------------------------------------------------------------------------


def test_the_account_page_says_what_goes_and_what_is_kept(alice, history):
    page = logged_in(alice).get(reverse("account_delete"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "1 conversation with all their messages are deleted" in text
    assert "2 conversations that ended or that staff were asked to review are kept" in text
    assert "365 days" in text


def test_a_wrong_password_deletes_nothing(alice, history):
    client = logged_in(alice)
    response = client.post(reverse("account_delete"), {"password": "not-my-password"})
    assert response.status_code == 400
    assert "That is not your password. Your account was not deleted." in response.content.decode()
    assert User.objects.get(email=ALICE).is_active
    assert Conversation.objects.filter(user__email=ALICE).count() == 3
    assert client.get(reverse("chat:home")).status_code == 200


def test_guessing_the_password_on_the_delete_form_is_rate_limited(alice, history):
    client = logged_in(alice)
    for _ in range(10):
        assert client.post(reverse("account_delete"), {"password": "guess"}).status_code == 400
    response = client.post(reverse("account_delete"), {"password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts: wait a minute and try again." in response.content.decode()
    assert User.objects.get(email=ALICE).is_active
    assert Conversation.objects.filter(user__email=ALICE).count() == 3


def test_deleting_with_the_password_removes_the_person_and_keeps_the_audit_detached(alice, history, auditor):
    ordinary, appealed, reviewed = history
    other_session = logged_in(alice)
    client = Client()
    assert client.login(email=ALICE, password=PASSWORD)

    response = client.post(reverse("account_delete"), {"password": PASSWORD}, follow=True)

    assert "Your account has been deleted." in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("account_login")
    _nothing_left_of_alice()
    assert not Conversation.objects.filter(pk=ordinary.pk).exists()
    _audit_kept(appealed, reviewed)
    # Every session of the account is over, and the old email and password no longer sign in.
    assert other_session.get(reverse("chat:home")).status_code == 302
    assert not Client().login(email=ALICE, password=PASSWORD)
    # Staff still audit the end, without the person's email.
    transcript = logged_in(auditor).get(
        reverse("admin:welfare_admin_endedconversation_change", args=[appealed.pk])
    )
    assert transcript.status_code == 200
    text = transcript.content.decode()
    assert "you are useless" in text and ALICE not in text


def test_the_same_email_can_sign_up_again_after_deletion(alice, history):
    client = logged_in(alice)
    client.post(reverse("account_delete"), {"password": PASSWORD})
    response = Client().post(
        reverse("account_signup"), {"email": ALICE, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    fresh = User.objects.get(email=ALICE)
    assert not Conversation.objects.filter(user=fresh).exists()


def test_an_account_with_nothing_to_audit_is_removed_entirely(alice):
    builders.conversation(alice, texts=["How do tides work?"])
    builders.conversation(alice, texts=["A thumbs-down chat"])
    logged_in(alice).post(reverse("account_delete"), {"password": PASSWORD})
    _nothing_left_of_alice()
    assert not User.objects.filter(pk=alice.pk).exists()
    assert not Conversation.objects.exists()


# --- The admin and the shell follow the same rule ------------------------------------------------


def test_admin_deletion_follows_the_rule(alice, history, superuser):
    _ordinary, appealed, reviewed = history
    client = logged_in(superuser)
    url = reverse("admin:accounts_user_delete", args=[alice.pk])
    confirm = client.get(url).content.decode()
    assert "are kept for staff to audit, without name or email" in confirm
    assert "protected" not in confirm.lower()
    assert client.post(url, {"post": "yes"}).status_code == 302
    _nothing_left_of_alice()
    _audit_kept(appealed, reviewed)


def test_the_admin_bulk_delete_action_follows_the_rule(alice, bob, history, superuser):
    _ordinary, appealed, reviewed = history
    builders.conversation(bob, texts=["Bob's chat"])
    response = logged_in(superuser).post(
        reverse("admin:accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [alice.pk, bob.pk], "post": "yes"},
    )
    assert response.status_code == 302
    _nothing_left_of_alice()
    _audit_kept(appealed, reviewed)
    assert not User.objects.filter(email="bob@example.com").exists()


def test_shell_deletion_follows_the_rule(alice, bob, history):
    _ordinary, appealed, reviewed = history
    alice.delete()
    User.objects.filter(email="bob@example.com").delete()
    _nothing_left_of_alice()
    _audit_kept(appealed, reviewed)
    assert not User.objects.filter(pk=bob.pk).exists()


# --- Audit entries outlive every cascade -----------------------------------------------------------


def test_no_cascade_removes_an_audit_entry(alice, history, auditor):
    _ordinary, appealed, reviewed = history
    request = appealed.requests.get()
    from welfare_admin import audit

    audit.resolve_requests(auditor, [request], "Answered the user")
    with pytest.raises(ProtectedError):
        Conversation.objects.filter(pk=reviewed.pk).delete()
    with pytest.raises(ProtectedError):
        UserRequest.objects.filter(pk=request.pk).delete()
    with pytest.raises(ImmutableAuditEntry):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.count() == 2
    # A staff account's deletion leaves its entries, with who acted kept as text.
    auditor.delete()
    assert (
        list(AuditEntry.objects.values_list("actor_email", flat=True)) == ["welfare-auditor@example.com"] * 2
    )


# --- Retention ends: the purge ---------------------------------------------------------------------


def test_the_purge_removes_what_was_kept_once_the_retention_period_is_over(
    alice, bob, history, auditor, settings
):
    settings.BOWOUT_AUDIT_RETENTION_DAYS = 30
    _ordinary, appealed, reviewed = history
    bobs = builders.ended(bob, title="Bob's ended chat")
    builders.review(auditor, bobs)
    alice.delete()
    detached = User.objects.get(pk=alice.pk)

    call_command("purge_expired_audit")  # too early: nothing goes
    _audit_kept(appealed, reviewed)

    User.objects.filter(pk=detached.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    call_command("purge_expired_audit", "--dry-run")
    assert Conversation.objects.filter(pk=appealed.pk).exists()
    call_command("purge_expired_audit")

    assert not User.objects.filter(pk=detached.pk).exists()
    assert not Conversation.objects.filter(pk__in=[appealed.pk, reviewed.pk]).exists()
    assert not UserRequest.objects.filter(text="I was joking").exists()
    assert AuditEntry.objects.count() == 1
    # Bob's account was never deleted: his ended chat and its review stay.
    assert AuditEntry.objects.filter(conversation=bobs).count() == 1
    assert Conversation.objects.filter(pk=bobs.pk).exists()


@pytest.mark.django_db(transaction=True)
async def test_deleting_an_account_during_a_reply_logs_no_traceback(alice, conversation, open_socket, caplog):
    from asgiref.sync import sync_to_async

    from accounts import retention
    from chat import generation
    from tests.conftest import stream_frame

    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="[fault:slow] a long story please", client_id="7b0c6a2e-0f7e-4a43-9b39-0d6c1e1a6f00")
    await tab.receive_until(stream_frame)
    reply = await Message.objects.aget(conversation=conversation, role="assistant")
    await sync_to_async(retention.delete_account)(alice)
    await generation.wait_for_generation(reply.pk)
    assert not await Message.objects.filter(pk=reply.pk).aexists()
    assert [record.getMessage() for record in caplog.records if record.exc_info] == []
