"""Runs of the same user at once: the lease lets one push; nothing is duplicated or lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from planner.models import Task
from todoist_sim import SimConfig, Simulator
from todoist_sync import services
from todoist_sync.models import SyncRun, TodoistTaskMap

TOKEN = "sim-token-concurrent"


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_one_user_push_each_task_once(user, settings):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        ("file:memorydb", ":memory:")
    ):
        pytest.skip("needs a database that several threads share: runs on PostgreSQL in CI")
    with Simulator(SimConfig(latency_ms=20, seed=3), tokens={"alice": TOKEN}) as sim:
        settings.TODOIST_API_URL = sim.url
        settings.TODOIST_API_TOKEN = TOKEN
        settings.TODOIST_BATCH_SIZE = 10  # several batches, so runs overlap for a while
        Task.objects.bulk_create(Task(user=user, title=f"C{i}") for i in range(60))
        errors: list[BaseException] = []

        def run() -> None:
            try:
                services.sync_run_execute(user_id=user.pk, sleep=lambda s: None)
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
        remote = [t for t in sim.tasks("alice") if not t["is_deleted"]]
        assert len(remote) == 60
        assert len({t["content"] for t in remote}) == 60
        assert TodoistTaskMap.objects.filter(sync_state="synced").count() == 60
        runs = list(SyncRun.objects.all())
        assert len(runs) == 4
        # Exactly the lease holders pushed; the others deferred without sending anything.
        pushing = [r for r in runs if r.created]
        assert sum(r.created for r in runs) == 60
        assert all(r.lease_holder == r.job_id for r in pushing)
        assert all(r.requests == 0 for r in runs if r.state == "deferred")
