"""Which Todoist account a user's tasks live in, so that tasks never move silently between
accounts: a mapping records its account, and a token of another Todoist user starts afresh.

The account of a token is told by its Todoist user id (from `GET /user` when a token is
connected, or the `user` of the account's first read): two tokens of one person are one
account; a token of someone else is another, and the old one is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q
from django.utils import timezone

from todoist_sync.events import EventBuffer, Level
from todoist_sync.models import TodoistAccount, TodoistTaskMap
from todoist_sync.services.lease import fenced
from todoist_sync.services.persistence import mappings_reset
from todoist_sync.tokens import token_key


def todoist_account_identify(*, user_id: int, token: str, todoist_user: dict[str, Any]) -> None:
    """Record whose Todoist account a token opens (at connect time: `GET /user`'s answer)."""
    account, _ = TodoistAccount.objects.get_or_create(user_id=user_id, key=token_key(token))
    if account.todoist_user_id != str(todoist_user["id"]):
        account.todoist_user_id = str(todoist_user["id"])
        account.save(update_fields=["todoist_user_id"])


def mappings_follow_account(
    *,
    user_id: int,
    account: TodoistAccount,
    events: EventBuffer,
    identify: Callable[[], None],
) -> int:
    """Point the user's mappings at the account the run's token opens. Mappings made before
    accounts were recorded, or under another token of the same Todoist user, simply follow;
    those in another person's account start afresh here (that account is left untouched).
    `identify` learns whose account the token opens, when not known yet (one read). Return
    how many start afresh. One query when nothing changed."""
    elsewhere = TodoistTaskMap.objects.filter(user_id=user_id).exclude(account=account)
    if not elsewhere.exists():
        return 0
    if not account.todoist_user_id:
        identify()
    if not account.todoist_user_id:
        # Whose account this token opens could not be read: nothing moves on a guess now.
        return 0
    same = Q(account__isnull=True) | Q(account__todoist_user_id=account.todoist_user_id)
    with fenced():
        elsewhere.filter(same).update(account=account)
        moved = mappings_reset(elsewhere.exclude(same), account=account, project=None)
        if moved:
            account.replaced_at = timezone.now()
            account.save(update_fields=["replaced_at"])
    if moved:
        events.add(
            Level.WARNING,
            f"The Todoist token now opens another account: {moved} task(s) are created afresh "
            "there; the previous account is left as it is.",
            {"todoist_account": account.todoist_user_id, "tasks": moved},
        )
    return moved
