"""What keeps workers from stepping on each other: the per-user lease and the per-token budget.

Both live in the database, so every worker on every machine sees the same state.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from todoist_sync.conf import conf
from todoist_sync.models import RateBudget, SyncLease

# A slot is stamped before its request leaves and Todoist counts it on arrival, which can be
# later: this margin keeps any window Todoist counts in under the limit.
BUDGET_MARGIN_SECONDS = 1.0


def lease_acquire(*, user_id: int, holder: str, seconds: float | None = None) -> bool:
    """Take the user's lease if it is free or expired: one conditional UPDATE, no row locks."""
    now = timezone.now()
    try:
        SyncLease.objects.get_or_create(user_id=user_id)
    except IntegrityError:  # another worker created the row first: fine
        pass
    expires = now + timedelta(seconds=seconds or conf.TODOIST_LEASE_SECONDS)
    taken = (
        SyncLease.objects.filter(user_id=user_id)
        .filter(
            Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lt=now) | Q(holder=holder)
        )
        .update(holder=holder, expires_at=expires)
    )
    return taken == 1


def lease_renew(*, user_id: int, holder: str) -> bool:
    expires = timezone.now() + timedelta(seconds=conf.TODOIST_LEASE_SECONDS)
    return SyncLease.objects.filter(user_id=user_id, holder=holder).update(expires_at=expires) == 1


def lease_release(*, user_id: int, holder: str) -> None:
    SyncLease.objects.filter(user_id=user_id, holder=holder).update(holder="", expires_at=None)


def rate_budget_acquire(*, key: str) -> float:
    """Take one request slot, or say how many seconds until one frees (nothing taken then).

    A sliding log of send times: at most TODOIST_RATE_LIMIT_REQUESTS in any window of
    TODOIST_RATE_LIMIT_WINDOW seconds, so it also holds for any fixed window Todoist counts in.
    """
    limit, window = conf.TODOIST_RATE_LIMIT_REQUESTS, conf.TODOIST_RATE_LIMIT_WINDOW
    RateBudget.objects.get_or_create(key=key)
    with transaction.atomic():
        # Row lock on PostgreSQL; SQLite serialises writers (IMMEDIATE transactions) anyway.
        budget = RateBudget.objects.select_for_update().get(key=key)
        now = time.time()
        if budget.blocked_until and budget.blocked_until.timestamp() > now:
            return budget.blocked_until.timestamp() - now
        span = window + BUDGET_MARGIN_SECONDS
        stamps = [s for s in budget.stamps if s > now - span]
        if limit > 0 and len(stamps) >= limit:
            return stamps[-limit] + span - now
        stamps.append(now)
        budget.stamps = stamps
        budget.save(update_fields=["stamps"])
        return 0.0


def rate_budget_block(*, key: str, seconds: float) -> datetime:
    """Todoist said 429: nobody sends with this token before the retry-after passes."""
    until = timezone.now() + timedelta(seconds=max(seconds, 0.0))
    RateBudget.objects.get_or_create(key=key)
    RateBudget.objects.filter(key=key).filter(
        Q(blocked_until__isnull=True) | Q(blocked_until__lt=until)
    ).update(blocked_until=until)
    return until
