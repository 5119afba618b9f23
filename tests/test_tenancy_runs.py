"""Many users on one server, the engine's side: a fair share of a shared token, one queued run
per user, debounced bursts, who the shared token syncs, and pruned runs."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.factories import make_task, run_sync
from todoist_sync import services
from todoist_sync.exceptions import NoTodoistToken
from todoist_sync.models import SyncRun, TodoistCredential
from todoist_sync.services.safety_net import runs_prune
from todoist_sync.tokens import encrypt_token

pytestmark = pytest.mark.django_db


def test_one_users_storm_does_not_spend_another_users_share(user, other_user, sim, settings):
    """Before: 449 syncs of one user spent the shared token's window; the next user's run was
    deferred for 870 s."""
    settings.TODOIST_RATE_LIMIT_REQUESTS = 30  # the shared token's window
    settings.TODOIST_RATE_LIMIT_USER_REQUESTS = 10  # one user's share of it
    settings.TODOIST_RATE_LIMIT_MAX_WAIT = 0  # a wait ends the run (deferred) at once
    task = make_task(user, "storm 0")
    storm = []
    for n in range(1, 40):  # one sync per change: each costs requests
        task.title = f"storm {n}"
        task.save()
        storm.append(run_sync(user))
    assert "deferred" in [run.state for run in storm]  # the storm hit its own share...
    assert sum(run.requests for run in storm) <= 10
    make_task(other_user, "calm")
    calm = run_sync(other_user)  # ...and the other user's run goes through
    assert (calm.state, calm.created) == ("succeeded", 1)


def test_a_users_own_token_is_limited_by_its_own_budget_only(user, sim, settings, sim_token):
    settings.TODOIST_RATE_LIMIT_USER_REQUESTS = 1
    TodoistCredential.objects.create(
        user=user, token_encrypted=encrypt_token(sim_token), token_last4=sim_token[-4:]
    )
    make_task(user, "a")
    run = run_sync(user)
    assert (run.state, run.created) == ("succeeded", 1) and run.requests >= 2


def test_the_shared_token_syncs_only_the_users_listed(user, other_user, settings):
    settings.TODOIST_SHARED_TOKEN_USERS = "bob"
    with pytest.raises(NoTodoistToken):
        services.todoist_token_for(user_id=user.pk)  # alice: not listed, and no token
    assert services.todoist_token_for(user_id=other_user.pk) == settings.TODOIST_API_TOKEN
    settings.TODOIST_SHARED_TOKEN_USERS = "*"
    assert services.todoist_token_for(user_id=user.pk) == settings.TODOIST_API_TOKEN


def test_a_lone_change_goes_at_once_and_a_burst_becomes_one_run(user, queued_jobs, settings):
    settings.TODOIST_SYNC_DEBOUNCE_SECONDS = 2
    lone = services.sync_enqueue(user=user, trigger="change")
    assert lone.not_before is None  # fired on the leading edge
    SyncRun.objects.filter(pk=lone.pk).update(state=SyncRun.State.RUNNING)
    burst = [services.sync_enqueue(user=user, trigger="change") for _ in range(20)]
    assert len({run.pk for run in burst}) == 1  # one run for the burst...
    [trailing] = SyncRun.objects.filter(state=SyncRun.State.QUEUED)
    assert trailing.not_before == lone.queued_at + datetime.timedelta(seconds=2)  # ...after it


def test_a_debounced_run_waits_then_takes_what_joined_it(user, sim, settings):
    settings.TODOIST_SYNC_DEBOUNCE_SECONDS = 2
    make_task(user, "first")
    services.sync_enqueue(user=user, trigger="change")
    run = SyncRun.objects.create(
        job_id="debounced",
        user=user,
        chat_id=5,
        trigger="change",
        not_before=timezone.now() + datetime.timedelta(seconds=1.5),
    )
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        SyncRun.objects.filter(pk=run.pk).update(chat_id=None)  # a trigger joined meanwhile

    done = run_sync(user, job_id="debounced", sleep=sleep)
    assert slept and 0 < slept[0] <= 2
    assert (done.chat_id, done.created) == (None, 1)


def test_old_finished_runs_are_pruned(user):
    old = timezone.now() - datetime.timedelta(days=31)
    for n, state in enumerate(["succeeded", "failed", "queued", "running"]):
        SyncRun.objects.create(job_id=f"old-{n}", user=user, state=state)
    SyncRun.objects.update(queued_at=old)
    SyncRun.objects.create(job_id="recent", user=user, state="succeeded")
    assert runs_prune(before=timezone.now() - datetime.timedelta(days=30)) == 2
    left = set(SyncRun.objects.values_list("job_id", flat=True))
    assert left == {"old-2", "old-3", "recent"}
