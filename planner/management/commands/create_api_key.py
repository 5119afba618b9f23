"""`manage.py create_api_key <username>`: a new API key for a user, such as the bot's.

Only the key's digest is stored (django-rest-knox), so it is shown this once: the key is the
last line of the output, alone, for scripts. A user may hold several keys; revoke one in the
admin (superusers: "API keys (bots)").
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import get_token_model


class Command(BaseCommand):
    help = "Create an API key for a user and print it; only its digest is stored."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username", help="The user the key acts as.")

    def handle(self, *args: Any, **options: Any) -> None:
        username, verbosity = options["username"], options["verbosity"]
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None
        _, key = get_token_model().objects.create(user=user)
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"API key for {username!r} (shown only now; send it as "
                    "`Authorization: Token <key>`):"
                )
            )
        self.stdout.write(key)
