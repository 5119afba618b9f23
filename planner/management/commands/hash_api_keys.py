"""`manage.py hash_api_keys`: keep only digests of the API keys issued before knox.

DRF's authtoken stored each key in clear, so whoever read the table could act as any bot.
Each one becomes a knox key with the same value (stored as its digest, no expiry), and its
clear row is deleted: clients keep sending the key they have. Safe to run again. While rows
remain, the system check `planner.W001` says so (DRF's admin page for them is not registered).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Move DRF authtoken keys (stored in clear) to knox (a digest only); clients keep them."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        keys = list(Token.objects.values_list("key", "user_id"))
        token_model = get_token_model()
        token_model.objects.bulk_create(
            [
                token_model(
                    digest=hash_token(key),
                    token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH],
                    user_id=user_id,
                    expiry=None,
                )
                for key, user_id in keys
            ],
            # A key moved by an earlier run that was interrupted: its digest is there already.
            ignore_conflicts=True,
        )
        Token.objects.filter(key__in=[key for key, _ in keys]).delete()
        if not keys:
            self.stdout.write(self.style.SUCCESS("No API keys stored in clear: nothing to move."))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Moved {len(keys)} API key(s) to digest-only storage; their clients keep them."
            )
        )
