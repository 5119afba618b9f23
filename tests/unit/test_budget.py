"""The per-token request budget on a clock the test moves, the lease's fence, and the transport
that takes a slot and checks the lease before every request (no request is sent here)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.unit.conftest import NoTransport
from todoist_sync.exceptions import LeaseLost, RunStop, TodoistRateLimitedError
from todoist_sync.models import RateBudget, SyncLease, SyncRun, TodoistAccount
from todoist_sync.services.budget import rate_budget_acquire, rate_budget_block
from todoist_sync.services.lease import current_fence, fenced, lease_acquire
from todoist_sync.services.transport import Transport

pytestmark = pytest.mark.django_db

WINDOW = 60.0
SPAN = WINDOW + 1.0  # the window and the margin for a request counted on arrival
LIMIT = 3


@pytest.fixture(autouse=True)
def small_budget(settings):
    settings.TODOIST_RATE_LIMIT_WINDOW = WINDOW
    settings.TODOIST_RATE_LIMIT_REQUESTS = LIMIT


# -- the budget -----------------------------------------------------------------------------------


# Steps: (seconds the clock moves on, user (None: the token of one user), wait answered).
@pytest.mark.parametrize(
    ("user_limit", "steps"),
    [
        pytest.param(0, [(0, None, 0.0)] * LIMIT + [(0, None, SPAN)], id="full-window-waits"),
        # The wait is until the oldest request leaves the window.
        pytest.param(0, [(0, None, 0.0), (10, None, 0.0), (0, None, 0.0), (5, None, SPAN - 15)],
                     id="waits-for-the-oldest"),
        pytest.param(0, [(0, None, 0.0)] * LIMIT + [(SPAN, None, 0.0)], id="window-slides"),
        # A refusal takes nothing: the wait does not grow by asking again.
        pytest.param(0, [(0, None, 0.0)] * LIMIT + [(0, None, SPAN), (1, None, SPAN - 1)],
                     id="refusal-takes-nothing"),
        # A shared token: one user's ceiling leaves the others room.
        pytest.param(2, [(0, 1, 0.0), (0, 1, 0.0), (0, 1, SPAN), (0, 2, 0.0)],
                     id="user-ceiling"),
        pytest.param(2, [(0, 1, 0.0), (0, 2, 0.0), (0, 2, 0.0), (0, 1, SPAN)],
                     id="token-limit-for-every-user"),
    ],
)  # fmt: skip
def test_rate_budget_acquire(clock, user_limit, steps):
    answered = []
    for advance, user_id, _ in steps:
        clock.now += advance
        answered.append(rate_budget_acquire(key="token-1", user_id=user_id, user_limit=user_limit))
    assert answered == [wait for _, _, wait in steps]


def test_a_lowered_limit_waits_until_enough_requests_left_the_window(clock):
    for advance in (0, 10, 10):  # sent at t, t + 10 and t + 20
        clock.now += advance
        assert rate_budget_acquire(key="token-1") == 0.0
    # Two a window now: one more when only one is left, once the request of t + 10 left.
    assert rate_budget_acquire(key="token-1", limit=2) == 10 + SPAN - 20


def test_a_429_blocks_the_budget_until_its_retry_after(clock):
    rate_budget_block(key="token-1", seconds=20)
    assert rate_budget_acquire(key="token-1") == 20.0
    clock.now += 20.5
    assert rate_budget_acquire(key="token-1") == 0.0


def test_an_unknown_token_takes_no_slot_without_create(clock):
    assert rate_budget_acquire(key="guessed", create=False) == 0.0
    assert not RateBudget.objects.filter(key="guessed").exists()


# -- the fence ------------------------------------------------------------------------------------


def take_over(user, holder):
    """The lease expires and `holder` takes it."""
    SyncLease.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    return lease_acquire(user_id=user.pk, holder=holder)


@pytest.mark.parametrize(
    ("next_holder", "lost"),
    [
        pytest.param(None, False, id="still-ours"),
        pytest.param("run-b", True, id="another-run-took-it"),
        # The same holder name acquiring again is another fencing number: the old one is stale.
        pytest.param("run-a", True, id="retaken-under-same-name"),
    ],
)
def test_fence_check(user, next_holder, lost):
    fence = lease_acquire(user_id=user.pk, holder="run-a")
    if next_holder:
        assert take_over(user, next_holder) is not None
    token = current_fence.set(fence)
    try:
        if lost:
            with pytest.raises(LeaseLost), fenced():
                TodoistAccount.objects.create(user=user, key="written")
        else:
            with fenced():
                TodoistAccount.objects.create(user=user, key="written")
    finally:
        current_fence.reset(token)
    # A lost lease's write is rolled back with its transaction.
    assert TodoistAccount.objects.filter(key="written").exists() is not lost


def test_a_held_lease_cannot_be_taken(user):
    assert lease_acquire(user_id=user.pk, holder="run-a") is not None
    assert lease_acquire(user_id=user.pk, holder="run-b") is None


# -- the transport: lease and budget before every request -----------------------------------------


@pytest.fixture
def transport(user, events, clock, settings):
    settings.TODOIST_RATE_LIMIT_MAX_WAIT = 30
    fence = lease_acquire(user_id=user.pk, holder="run-a")
    token = current_fence.set(fence)
    progress: list[str] = []

    def report(message: str) -> None:
        # Each wait reports once: a loop that waits without moving on fails here, not hangs.
        progress.append(message)
        assert len(progress) < 10, "the budget loop waits without moving on"

    yield Transport(
        client=NoTransport(),
        budget_key="token-1",
        run=SyncRun(user_id=user.pk, job_id="run-a"),
        events=events,
        sleep=clock.sleep,
        progress=report,
    )
    current_fence.reset(token)


def test_acquire_counts_the_request(transport, clock):
    transport.acquire()
    assert (transport.run.requests, clock.slept) == (1, [])


def test_a_short_wait_for_the_budget_is_slept(transport, clock, settings):
    settings.TODOIST_RATE_LIMIT_REQUESTS = 1
    settings.TODOIST_RATE_LIMIT_WINDOW = 20  # a wait of 21 s: under the 30 s worth waiting
    transport.acquire()
    transport.acquire()
    assert (transport.run.requests, clock.slept) == (2, [21.0])


def test_a_long_wait_for_the_budget_stops_the_run(transport, clock):
    for _ in range(LIMIT):
        transport.acquire()
    with pytest.raises(RunStop) as stop:
        transport.acquire()
    assert stop.value.state == SyncRun.State.DEFERRED
    assert stop.value.resume_at > timezone.now() + timedelta(seconds=SPAN - 5)
    assert (transport.run.requests, clock.slept) == (LIMIT, [])


@pytest.mark.parametrize("next_holder", ["run-b", "run-a"])
def test_a_run_that_lost_its_lease_sends_nothing(transport, user, next_holder):
    take_over(user, next_holder)
    with pytest.raises(RunStop) as stop:
        transport.acquire()
    assert stop.value.state == SyncRun.State.FAILED
    assert transport.run.requests == 0
    assert not RateBudget.objects.exists()  # no slot taken either


def test_a_429_blocks_the_budget_for_every_run(transport):
    def answer_429():
        raise TodoistRateLimitedError("429", retry_after=20)

    with pytest.raises(TodoistRateLimitedError):
        transport.send(answer_429)
    assert rate_budget_acquire(key="token-1") == 20.0
