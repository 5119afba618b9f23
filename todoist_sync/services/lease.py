"""One run per user at a time: the per-user lease in the database, its fencing number, and
`fenced()` writes that happen only while the run still holds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Q
from django.utils import timezone

from todoist_sync.conf import conf
from todoist_sync.exceptions import LeaseLost
from todoist_sync.models import SyncLease


@dataclass(frozen=True)
class Fence:
    """A run's hold on its user's lease: the holder and the fencing number it was given."""

    user_id: int
    holder: str
    number: int

    def check(self) -> None:
        """Inside the write's transaction: raise LeaseLost unless the lease is still ours.
        The row lock (PostgreSQL) or the write lock (SQLite's IMMEDIATE transactions) keeps a
        new holder out until the write commits."""
        held = (
            SyncLease.objects.select_for_update()
            .filter(user_id=self.user_id, holder=self.holder, fence=self.number)
            .exists()
        )
        if not held:
            raise LeaseLost


# The fence of the run writing on this thread; set by the engine for the run's duration.
current_fence: ContextVar[Fence | None] = ContextVar("todoist_sync_fence", default=None)


@contextmanager
def fenced() -> Iterator[None]:
    """One transaction whose writes happen only if the run still holds its lease."""
    with transaction.atomic():
        fence = current_fence.get()
        if fence is not None:
            fence.check()
        yield


def lease_held() -> Q:
    """A condition for a single UPDATE of the run's: true only while the run holds its lease.
    Fences a write every run makes (the reaping of lost runs) without `fenced()`'s transaction
    and lease query; no condition outside a run."""
    fence = current_fence.get()
    if fence is None:
        return Q()
    held = SyncLease.objects.filter(user_id=fence.user_id, holder=fence.holder, fence=fence.number)
    return Q(Exists(held))


def lease_acquire(*, user_id: int, holder: str, seconds: float | None = None) -> Fence | None:
    """Take the user's lease if it is free or expired: one conditional UPDATE, no row locks.
    Return the new fence (a fresh number each time), or None when another run holds it."""
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
        .update(holder=holder, expires_at=expires, fence=F("fence") + 1)
    )
    if taken != 1:
        return None
    # Read after the UPDATE: should another run take the lease in between (ours expiring at
    # once), this reads its fence, and our writes fail closed (LeaseLost).
    number = SyncLease.objects.values_list("fence", flat=True).get(user_id=user_id)
    return Fence(user_id=user_id, holder=holder, number=number)


def lease_renew(*, user_id: int, holder: str, fence: int | None = None) -> bool:
    expires = timezone.now() + timedelta(seconds=conf.TODOIST_LEASE_SECONDS)
    lease = SyncLease.objects.filter(user_id=user_id, holder=holder)
    if fence is not None:
        lease = lease.filter(fence=fence)
    return lease.update(expires_at=expires) == 1


def lease_release(*, user_id: int, holder: str) -> bool:
    """Give the lease up; return whether a run asked for a follow-up meanwhile. Each UPDATE
    is atomic on its own: a request for a follow-up lands before or after the first."""
    lease = SyncLease.objects.filter(user_id=user_id, holder=holder)
    released = dict(holder="", expires_at=None, follow_up=False)
    if lease.filter(follow_up=True).update(**released):
        return True
    lease.update(**released)
    return False


def lease_ask_follow_up(*, user_id: int) -> None:
    """This user's lease is held: ask its holder to queue a run when it lets go."""
    SyncLease.objects.filter(user_id=user_id).update(follow_up=True)
