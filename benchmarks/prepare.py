"""Set up Bowout's database for the benchmark (run with Bowout's environment): migrate, then
`--conversations` new conversations, each with its own user and logged-in session, as C people chatting
at once would be (the per-user quotas allow three replies at a time). Prints JSON:
{"conversations": [[conversation id, session key], ...]}."""

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402

from chat.models import Conversation  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, required=True)
    args = parser.parse_args()
    call_command("migrate", verbosity=0, interactive=False)
    run = uuid.uuid4().hex[:8]  # several configurations may share the database
    User = get_user_model()
    users = User.objects.bulk_create(
        User(email=f"bench-{run}-{i}@example.com", password="!unusable") for i in range(args.conversations)
    )
    conversations = Conversation.objects.bulk_create(
        Conversation(user=user, title=f"bench {i}") for i, user in enumerate(users)
    )
    rows = []
    for user, conversation in zip(users, conversations, strict=True):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        rows.append([str(conversation.pk), session.session_key])
    print(json.dumps({"conversations": rows}))


if __name__ == "__main__":
    main()
