"""Set up Bowout's database for the benchmark (run with Bowout's environment): migrate, one user, a
logged-in session and `--conversations` new conversations. Prints JSON: {"session": ..., "conversations": [...]}."""

import argparse
import json
import os
import sys
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
    user, _ = get_user_model().objects.get_or_create(email="bench@example.com")
    user.set_password("bench-password-not-secret")
    user.save()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    conversations = Conversation.objects.bulk_create(
        Conversation(user=user, title=f"bench {i}") for i in range(args.conversations)
    )
    print(json.dumps({"session": session.session_key, "conversations": [str(c.pk) for c in conversations]}))


if __name__ == "__main__":
    main()
