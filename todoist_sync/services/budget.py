"""The request budget of a Todoist token (or account): slots in a sliding window, shared by
every worker through the database, with a fair share for each user of a shared token.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Q

from todoist_sync.conf import conf
from todoist_sync.models import RateBudget

# A slot is stamped before its request leaves and Todoist counts it on arrival, which can be
# later: this margin keeps any window Todoist counts in under the limit.
BUDGET_MARGIN_SECONDS = 1.0
# A user refused a slot of a shared token keeps a claim on the next one for the wait it was told
# and this long besides: a deferred run comes back on django-q2's scheduler (every 30 s).
WAITING_GRACE_SECONDS = 60.0


def window_span() -> float:
    """How long a send stays in a budget's sliding window (the margin included)."""
    return conf.TODOIST_RATE_LIMIT_WINDOW + BUDGET_MARGIN_SECONDS


def window_start(now: float) -> float:
    """The oldest send time still in a budget's sliding window at `now`."""
    return now - window_span()


def budget_time(epoch: float) -> datetime:
    """A budget's epoch seconds (its stamps' clock, `time.time`) as an aware datetime."""
    return datetime.fromtimestamp(epoch, tz=UTC)


def rate_budget_acquire(
    *,
    key: str,
    limit: int | None = None,
    user_id: int | None = None,
    user_limit: int = 0,
    create: bool = True,
) -> float:
    """Take one request slot, or say how many seconds until one frees (nothing taken then).

    A sliding log of send times: at most `limit` (TODOIST_RATE_LIMIT_REQUESTS) in any window of
    TODOIST_RATE_LIMIT_WINDOW seconds, so it also holds for any fixed window Todoist counts in.

    With `user_id` (a shared token) the window is shared max-min fairly: a user gets a slot
    only while under `user_limit` (0: no ceiling) and while no user who was refused and is
    coming back has sent fewer in the window. A refused user's claim lasts the wait it was told
    and WAITING_GRACE_SECONDS; whoever waits with the fewest requests takes the next free slot,
    so any number of busy users leaves a quiet one room within a window. A user's slot is
    counted only when the token's slot is taken too, in the same transaction.

    `create=False`: a key without a row (a token Todoist has not accepted yet) gets none here,
    and nothing is taken (`rate_budget_note` records the request once Todoist accepted it).
    """
    limit = conf.TODOIST_RATE_LIMIT_REQUESTS if limit is None else limit
    while True:
        now = time.time()
        if create:
            _, created = RateBudget.objects.get_or_create(
                key=key, defaults={"touched_at": budget_time(now)}
            )
            if created:  # the one time rows grow: the stale ones go then
                rate_budgets_prune(now=now)
        with transaction.atomic():
            # Row lock on PostgreSQL; SQLite serialises writers (IMMEDIATE transactions) anyway.
            budget = RateBudget.objects.select_for_update().filter(key=key).first()
            if budget is not None:
                return _take_slot(budget, limit=limit, user_id=user_id, user_limit=user_limit)
        if not create:
            return 0.0
        # Pruned between the two statements (it was stale): create it again.


def _take_slot(budget: RateBudget, *, limit: int, user_id: int | None, user_limit: int) -> float:
    now = time.time()
    if budget.blocked_until and budget.blocked_until.timestamp() > now:
        return budget.blocked_until.timestamp() - now
    span = window_span()
    since = window_start(now)
    stamps = [s for s in budget.stamps if s > since]
    shares = {
        u: kept for u, sent in budget.shares.items() if (kept := [s for s in sent if s > since])
    }
    waiting = {u: until for u, until in budget.waiting.items() if until > now}
    me = str(user_id) if user_id is not None else ""
    mine = shares.get(me, [])
    wait = 0.0
    if limit > 0 and len(stamps) >= limit:
        wait = stamps[-limit] + span - now
    elif me and user_limit > 0 and len(mine) >= user_limit:
        wait = mine[-user_limit] + span - now
    elif me:
        # Max-min fairness: a waiting user who sent fewer goes first. (Sent at least one, so
        # the window holds a stamp that frees a slot.)
        ahead = [
            until for u, until in waiting.items() if u != me and len(shares.get(u, [])) < len(mine)
        ]
        if ahead:
            wait = min(stamps[0] + span, *ahead) - now
    if wait > 0 and not me:
        return wait  # a token of one user: nothing to remember of a refusal
    if wait > 0:
        waiting[me] = max(waiting.get(me, 0.0), now + wait + WAITING_GRACE_SECONDS)
    else:
        stamps.append(now)
        if me:
            shares[me] = [*mine, now]
            waiting.pop(me, None)
    budget.stamps, budget.shares, budget.waiting = stamps, shares, waiting
    budget.touched_at = budget_time(now)
    full = limit > 0 and len(stamps) >= limit
    budget.spent_until = budget_time(stamps[-limit] + span) if full else None
    budget.save(update_fields=["stamps", "shares", "waiting", "touched_at", "spent_until"])
    return wait


def account_budget_key(todoist_user_id: str) -> str:
    """The budget of a Todoist account, shared by every token of it (Todoist counts its limits
    per user): a hash of the account's user id."""
    return hashlib.sha256(f"todoist-user:{todoist_user_id}".encode()).hexdigest()


def full_read_key(key: str) -> str:
    """The full-read budget that goes with a request budget (64 characters, as keys are)."""
    return "full-" + hashlib.sha256(f"full:{key}".encode()).hexdigest()[:59]


def rate_budget_fold(*, key: str, into: str) -> None:
    """Move what a budget spent (its window's stamps, a 429 block) into another one, and drop
    it: a token's first requests, before its account was known, count for the account."""
    with transaction.atomic():
        source = RateBudget.objects.select_for_update().filter(key=key).first()
        if source is None:
            return
        target, _ = RateBudget.objects.select_for_update().get_or_create(
            key=into, defaults={"touched_at": source.touched_at}
        )
        target.stamps = sorted([*target.stamps, *source.stamps])
        # A shared token's users keep what they spent, and their claims.
        for user, sent in source.shares.items():
            target.shares[user] = sorted([*target.shares.get(user, []), *sent])
        for user, until in source.waiting.items():
            target.waiting[user] = max(target.waiting.get(user, 0.0), until)
        blocks = [b for b in (target.blocked_until, source.blocked_until) if b is not None]
        target.blocked_until = max(blocks) if blocks else None
        target.touched_at = max(filter(None, (target.touched_at, source.touched_at)), default=None)
        target.save(update_fields=["stamps", "shares", "waiting", "blocked_until", "touched_at"])
        source.delete()


def rate_budget_note(*, key: str) -> None:
    """A request sent without a slot (`create=False` found no row) whose token Todoist
    accepted: its budget starts with it. A row made meanwhile already counts its own."""
    now = time.time()
    _, created = RateBudget.objects.get_or_create(
        key=key, defaults={"stamps": [now], "touched_at": budget_time(now)}
    )
    if created:
        rate_budgets_prune(now=now)


def rate_budgets_prune(*, now: float | None = None) -> int:
    """Delete the budgets untouched for a window (and not blocked): an empty window is what a
    missing row means too. Keeps the table, and /healthz's read of it, to the tokens in use."""
    now = time.time() if now is None else now
    stale = budget_time(window_start(now))
    untouched = Q(touched_at__lt=stale) | Q(touched_at__isnull=True)
    deleted, _ = (
        RateBudget.objects.filter(untouched).exclude(blocked_until__gt=budget_time(now)).delete()
    )
    return deleted


def rate_budget_block(*, key: str, seconds: float) -> datetime:
    """Todoist said 429: nobody sends with this token before the retry-after passes."""
    now = budget_time(time.time())
    until = now + timedelta(seconds=max(seconds, 0.0))
    RateBudget.objects.get_or_create(key=key, defaults={"touched_at": now})
    RateBudget.objects.filter(key=key).filter(
        Q(blocked_until__isnull=True) | Q(blocked_until__lt=until)
    ).update(blocked_until=until, touched_at=now)
    return until
