"""Runs of the same user at once: the lease lets one push; nothing is duplicated or lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from planner.models import Task
from tests.factories import run_sync, sim_tasks
from todoist_sync.models import SyncRun, TodoistTaskMap


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_one_user_push_each_task_once(user, settings, sim):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        ("file:memorydb", ":memory:")
    ):
        pytest.skip("needs a database that several threads share: runs on PostgreSQL in CI")
    sim.configure(latency_ms=20)
    settings.TODOIST_BATCH_SIZE = 10  # several batches, so runs overlap for a while
    Task.objects.bulk_create(Task(user=user, title=f"C{i}") for i in range(60))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_sync(user)
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    remote = sim_tasks(sim)
    assert len(remote) == 60
    assert len({t["content"] for t in remote}) == 60
    assert TodoistTaskMap.objects.filter(sync_state="synced").count() == 60
    # Runs that found the lease held asked its holder for a follow-up run (Q sync mode runs it
    # inline): it finds nothing left to push.
    follow_ups = list(SyncRun.objects.filter(trigger="follow-up"))
    assert all(r.created == 0 and r.state == "succeeded" for r in follow_ups)
    runs = list(SyncRun.objects.exclude(trigger="follow-up"))
    assert len(runs) == 4
    # Exactly the lease holders pushed; the others deferred without sending anything.
    pushing = [r for r in runs if r.created]
    assert sum(r.created for r in runs) == 60
    assert all(r.lease_holder == r.job_id for r in pushing)
    assert all(r.requests == 0 for r in runs if r.state == "deferred")
