"""The request budgets under abuse: a guessed token leaves no budget row, stale rows are pruned,
/healthz reads one cached aggregate, and a shared token's window is shared max-min fairly.

The budget counts in epoch seconds (`time.time`): a `FakeClock` stands in for it, so a window
passes without sleeping.
"""

from __future__ import annotations

import heapq
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from todoist_sync.events import EventBuffer
from todoist_sync.exceptions import RunStop
from todoist_sync.health import budget_state
from todoist_sync.models import RateBudget, SyncRun
from todoist_sync.services.budget import rate_budget_acquire
from todoist_sync.services.lease import lease_acquire
from todoist_sync.services.transport import Transport
from todoist_sync.tokens import token_key

pytestmark = pytest.mark.django_db

TOKEN_URL = "/v1/sync/todoist/token"


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    fake = FakeClock()
    with mock.patch("todoist_sync.services.budget.time.time", fake):
        yield fake


# --- item 4: no row for a guessed token, stale rows pruned, /healthz cheap ---------------------


def test_a_guessed_token_leaves_no_budget_row(api_client, rsps, settings):
    """Before: each check with a guessed token added a row, which /healthz then read."""
    rsps.get(f"{settings.TODOIST_API_URL}/user", status=401, json={"error": "Unauthorized"})
    for n in range(5):
        response = api_client.put(TOKEN_URL, {"token": f"guess-{n:04d}"}, format="json")
        assert response.status_code == 400
    assert len(rsps.calls) == 5
    assert not RateBudget.objects.exists()


def test_an_accepted_token_takes_a_slot_of_its_budget(api_client, rsps, settings):
    rsps.get(f"{settings.TODOIST_API_URL}/user", json={"id": "42", "full_name": "Alice"})
    assert api_client.put(TOKEN_URL, {"token": "good-token-1234"}, format="json").status_code == 200
    [budget] = RateBudget.objects.all()
    assert budget.key == token_key("good-token-1234") and len(budget.stamps) == 1


def test_budgets_untouched_for_a_window_are_pruned(clock, settings):
    """Before: rows were never deleted, so every token ever checked stayed in /healthz's read."""
    settings.TODOIST_RATE_LIMIT_WINDOW = 60
    for n in range(20):
        rate_budget_acquire(key=token_key(f"old-{n}"))
    clock.now += 30
    rate_budget_acquire(key=token_key("recent"))
    clock.now += 40  # the old ones untouched for 70 s, the recent one for 40 s
    rate_budget_acquire(key=token_key("new"))
    assert set(RateBudget.objects.values_list("key", flat=True)) == {
        token_key("recent"),
        token_key("new"),
    }


def test_health_figures_are_one_aggregate_query_then_cached(clock, settings):
    settings.TODOIST_RATE_LIMIT_REQUESTS = 2
    for n in range(50):
        rate_budget_acquire(key=token_key(f"token-{n}"))
    rate_budget_acquire(key=token_key("token-0"))  # spent: 2 of 2

    with CaptureQueriesContext(connection) as first:
        state = budget_state()
    assert (state["budgets"], state["spent"]) == (50, 1)
    [query] = first.captured_queries
    assert "COUNT(" in query["sql"].upper()  # counted by the database, not row by row here

    rate_budget_acquire(key=token_key("token-1"))  # a second spent one, within the cache time
    with CaptureQueriesContext(connection) as second:
        assert budget_state()["spent"] == 1
    assert second.captured_queries == []


# --- item 5: a fair share that holds -----------------------------------------------------------


def shared_transport(user, settings) -> Transport:
    """The transport of a run of `user` on the shared token, holding the user's lease."""
    run = SyncRun.objects.create(job_id=f"job-{user.pk}", user=user, state="running")
    assert lease_acquire(user_id=user.pk, holder=run.job_id) is not None
    return Transport(
        client=None,
        budget_key=token_key(settings.TODOIST_API_TOKEN),
        run=run,
        events=EventBuffer(user_id=user.pk, job_id=run.job_id),
        sleep=lambda seconds: None,
        progress=lambda text: None,
        shared=True,
    )


def try_send(transport: Transport) -> float:
    """0 when a request may go now, else the seconds until the run resumes (it defers)."""
    try:
        transport.acquire()
    except RunStop as stop:
        assert stop.resume_at is not None
        return max((stop.resume_at - timezone.now()).total_seconds(), 0.01)
    return 0.0


def make_users(count: int, prefix: str) -> list:
    model = get_user_model()
    return [model.objects.create(username=f"{prefix}{n}") for n in range(count)]


def test_a_share_slot_is_counted_only_when_the_request_is_sent(clock, settings):
    """Before: a refused request used up a slot of the user's share all the same (Bob's share
    read 3/3 after 2 real requests), so Bob stayed refused after the token had room again."""
    settings.TODOIST_RATE_LIMIT_REQUESTS = 3
    settings.TODOIST_RATE_LIMIT_USER_REQUESTS = 2
    settings.TODOIST_RATE_LIMIT_WINDOW = 60
    settings.TODOIST_RATE_LIMIT_MAX_WAIT = 0
    alice, bob, carol = (shared_transport(u, settings) for u in make_users(3, "share"))
    assert [try_send(alice), try_send(alice), try_send(carol)] == [0.0, 0.0, 0.0]  # 3 of 3
    clock.now += 10
    assert try_send(bob) > 0 and try_send(bob) > 0  # the token is spent: nothing sent
    clock.now += 52  # alice's and carol's requests leave the window (60 s and a 1 s margin)
    assert try_send(bob) == 0.0
    assert try_send(bob) == 0.0  # bob's share holds the 2 requests he sent, nothing more


def test_ten_users_storming_a_shared_token_leave_a_lone_change_room_within_a_window(
    clock, settings
):
    """Before: ten users at their share (10 of 45 each) kept the token spent, and each slot that
    freed went to whichever of them asked first; the eleventh user's change waited on and on."""
    window, limit = 90.0, 45
    settings.TODOIST_RATE_LIMIT_REQUESTS = limit
    settings.TODOIST_RATE_LIMIT_USER_REQUESTS = 10  # as 100 of 450
    settings.TODOIST_RATE_LIMIT_WINDOW = window
    settings.TODOIST_RATE_LIMIT_MAX_WAIT = 0
    storm = [shared_transport(u, settings) for u in make_users(10, "storm")]
    quiet = shared_transport(make_users(1, "quiet")[0], settings)
    start = clock.now
    arrives = start + window  # the storm has filled the window by then
    # Events at (time, rank): at a tie the storm asks first, the worst case for the quiet user.
    events = [(start + n * 0.1, 0, n) for n in range(len(storm))] + [(arrives, 1, -1)]
    heapq.heapify(events)
    sent = dict.fromkeys(range(-1, len(storm)), 0)
    reached = None
    while events and clock.now < arrives + 3 * window:
        at, _rank, who = heapq.heappop(events)
        clock.now = at
        wait = try_send(quiet if who == -1 else storm[who])
        if wait == 0:
            sent[who] += 1
        if who == -1:
            if wait == 0:
                reached = clock.now
                continue  # its one change is sent
            heapq.heappush(events, (at + wait, 1, who))
        else:
            # A storm: the next change at once, or when its run resumes.
            heapq.heappush(events, (at + (wait or 0.5), 0, who))
    assert sum(sent[n] for n in range(len(storm))) >= limit  # the storm did fill the window
    assert reached is not None, "the quiet user's change never went"
    assert reached - arrives <= window + 1.0


def test_a_flood_of_probes_is_answered_from_the_last_answer(client):
    """Before: every probe ran every check (and read every budget row), so 16 parallel probes
    held both gunicorn workers and the API's requests queued behind them."""
    from planner.health import QueueCluster

    with mock.patch.object(
        QueueCluster, "look", autospec=True, side_effect=QueueCluster.look
    ) as look:
        answers = [client.get("/healthz") for _ in range(20)]
    assert look.call_count == 1  # the checks ran once; the other 19 read their answer
    assert {answer.status_code for answer in answers} == {200}
    assert answers[-1].json()["checks"].keys() == {
        "database",
        "cache",
        "queue_cluster",
        "todoist_budget",
    }
