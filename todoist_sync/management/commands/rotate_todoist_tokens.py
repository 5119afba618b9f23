"""`manage.py rotate_todoist_tokens`: encrypt every stored Todoist token with the first key.

Run it after putting a new key first in TODOIST_TOKEN_ENCRYPTION_KEYS (the old ones still
after it); once it reports no unreadable token, the old keys can go. Safe to run again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from todoist_sync.exceptions import TokenStorageUnavailable
from todoist_sync.services.credentials import todoist_credentials_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored Todoist token with the first key of "
        "TODOIST_TOKEN_ENCRYPTION_KEYS (then TODOIST_TOKEN_ENCRYPTION_KEY)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = todoist_credentials_reencrypt()
        except TokenStorageUnavailable as exc:
            raise CommandError(
                "No encryption key: set TODOIST_TOKEN_ENCRYPTION_KEYS or "
                "TODOIST_TOKEN_ENCRYPTION_KEY."
            ) from exc
        if result.unreadable:
            self.stderr.write(
                self.style.WARNING(
                    f"{result.unreadable} token(s) decrypt with none of the keys: left as they "
                    "are; their users must connect them again."
                )
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {result.reencrypted} Todoist token(s) with the first key; "
                f"{result.unreadable} unreadable."
            )
        )
