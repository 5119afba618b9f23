"""Fenced writes: a run that stalled past its lease writes nothing more, and no write but a
deliberate one ever replaces a Todoist id with NULL."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.factories import make_task, run_sync, sim_tasks
from todoist_sync import services
from todoist_sync.models import SyncLease, TodoistTaskMap
from todoist_sync.services import engine
from todoist_sync.services.persistence import forget_todoist_id, mappings_save

pytestmark = pytest.mark.django_db


def test_a_run_that_lost_its_lease_writes_nothing_more(user, sim, monkeypatch):
    task = make_task(user, "Stalled")
    run_sync(user)
    before = TodoistTaskMap.objects.get(local_task=task)
    assert before.todoist_task_id
    task.title = "Stalled, then renamed"
    task.save()

    real_plan = engine.sync_plan

    def plan_then_stall(**kwargs):
        decisions = real_plan(**kwargs)
        # The run stalls past its lease; another run takes the user over meanwhile.
        SyncLease.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
        assert services.lease_acquire(user_id=user.pk, holder="the-next-run")
        return decisions

    monkeypatch.setattr(engine, "sync_plan", plan_then_stall)
    stalled = run_sync(user)
    assert stalled.state == "failed" and "lost the sync lease" in stalled.error_summary
    after = TodoistTaskMap.objects.get(local_task=task)
    assert (after.todoist_task_id, after.inflight, after.updated_at) == (
        before.todoist_task_id,
        before.inflight,
        before.updated_at,
    )
    assert [t["content"] for t in sim_tasks(sim)] == ["Stalled"]  # nothing was sent either
    assert SyncLease.objects.get().holder == "the-next-run"  # and it did not let go of it


def test_a_stale_mapping_cannot_erase_a_stored_todoist_id(user, sim):
    task = make_task(user, "Kept")
    run_sync(user)
    stale = TodoistTaskMap.objects.get(local_task=task)
    stored = stale.todoist_task_id
    stale.todoist_task_id = None  # what a run that read the row before the id arrived holds
    mappings_save([stale])
    assert TodoistTaskMap.objects.get(pk=stale.pk).todoist_task_id == stored

    forget_todoist_id(stale)  # on purpose: the task is gone from Todoist
    mappings_save([stale])
    assert TodoistTaskMap.objects.get(pk=stale.pk).todoist_task_id is None
