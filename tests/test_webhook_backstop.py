"""The backstop: when Todoist's webhook deliveries are lost, the periodic reconcile of an OAuth
user (every TODOIST_RECONCILE_HOURS) still restores a person's edit. Against the simulator,
connected through its OAuth, with every delivery lost; the hours pass on a fake clock (the
safety net's slice called directly at later times), nothing sleeps."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from planner.models import Task
from tests.test_oauth_connect import CLIENT_ID, CLIENT_SECRET, REDIRECT, approve, connect_link
from todoist_sync.models import SyncRun, TodoistCredential, TodoistTaskMap
from todoist_sync.services import sync_run_execute
from todoist_sync.services.safety_net import safety_net_slice

ACCOUNT = "alice-oauth"
# Nothing listens there: a delivery that was not lost would fail (and wait 15 minutes).
WEBHOOK_URL = "http://127.0.0.1:9/todoist/webhooks"


@pytest.fixture
def connected(sim, settings, api_client, client, user):
    """Alice connected through OAuth to the simulated account ACCOUNT, every webhook lost."""
    sim.oauth_register(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_url=REDIRECT,
        webhook_url=WEBHOOK_URL,
    )
    sim.webhooks_configure(lost_rate=1.0, max_delay_ms=0)
    settings.TODOIST_CLIENT_ID = CLIENT_ID
    settings.TODOIST_CLIENT_SECRET = CLIENT_SECRET
    settings.TODOIST_OAUTH_URL = sim.root_url
    settings.TODOIST_OAUTH_REDIRECT_URL = REDIRECT
    settings.TODOIST_SYNC_ON_CHANGE = False
    settings.TODOIST_RECONCILE_HOURS = 24
    settings.TODOIST_DRIFT_POLICY = "restore"
    page = client.get(approve(sim, connect_link(api_client), account=ACCOUNT))
    assert page.status_code == 200
    assert TodoistCredential.objects.get(user=user).kind == "oauth"
    return sim


def run_inline(run: SyncRun) -> None:
    """The queue's seam: a queued run executes at once, as the worker would."""
    sync_run_execute(user_id=run.user_id, job_id=run.job_id, trigger=run.trigger)


def sweep_at(when, user, django_capture_on_commit_callbacks) -> SyncRun:
    """The safety net's slice of this user at `when`, its run executed; answers the run."""
    with (
        mock.patch("todoist_sync.services.enqueue.queue_job", run_inline),
        mock.patch("django.utils.timezone.now", return_value=when),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert safety_net_slice(user_ids=[user.pk]) == 1
    return SyncRun.objects.filter(user=user, trigger="safety-net").latest("pk")


def content_of(sim, mapping: TodoistTaskMap) -> str:
    return next(t for t in sim.tasks(ACCOUNT) if t["id"] == mapping.todoist_task_id)["content"]


def test_the_backstop_restores_an_edit_whose_deliveries_were_all_lost(
    connected, user, django_capture_on_commit_callbacks
):
    sim = connected
    for title in ("Buy milk", "Call the plumber", "Water the plants"):
        Task.objects.create(user=user, title=title)
    assert sync_run_execute(user_id=user.pk, trigger="api").failed == 0
    first = sync_run_execute(user_id=user.pk, trigger="safety-net", reconcile=True)
    assert first.reconciled_at is not None
    mapping = TodoistTaskMap.objects.select_related("local_task").get(
        local_task__title="Call the plumber"
    )

    lost_before = sim.webhook_stats()["lost"]
    sim.person_task(ACCOUNT, mapping.todoist_task_id, content="Call someone else")
    stats = sim.webhook_stats()
    assert stats["lost"] == lost_before + 1 and stats["sent"] == 0  # nobody told us

    # An hour later: the safety net pushes, but leaves an OAuth user's account unread.
    start = timezone.now()
    hourly = sweep_at(start + timedelta(hours=1), user, django_capture_on_commit_callbacks)
    assert hourly.reconcile is False and hourly.requests == 0
    assert content_of(sim, mapping) == "Call someone else"

    # Past TODOIST_RECONCILE_HOURS since the last read: the backstop reads and restores.
    backstop = sweep_at(start + timedelta(hours=25), user, django_capture_on_commit_callbacks)
    backstop.refresh_from_db()
    assert backstop.reconcile is True and backstop.state == SyncRun.State.SUCCEEDED
    assert backstop.drift_detected == 1 and backstop.drift_restored == 1
    assert content_of(sim, mapping) == "Call the plumber"
