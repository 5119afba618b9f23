"""End to end: the API queues a sync, a real qcluster worker runs it, the simulator receives it.

Everything runs in real processes over real HTTP on loopback (see tests/e2e_helpers.py), on a
temporary database of its own: a SQLite file, or a temporary PostgreSQL database when
DATABASE_URL points to PostgreSQL. Nothing talks to Todoist.
"""

from __future__ import annotations

import os

import pytest
import requests

from scripts.harness import Stack
from tests.e2e_helpers import E2EStack, e2e_stack, orm_alias

pytestmark = pytest.mark.e2e

SEEDED = 30


def _run_row(stack: E2EStack, django_db_blocker, job_id: str):
    from todoist_sync.models import SyncRun

    with django_db_blocker.unblock(), orm_alias(stack.database_url) as alias:
        return SyncRun.objects.using(alias).get(job_id=job_id)


def _sync(stack: E2EStack, django_db_blocker) -> tuple[dict, int, dict]:
    """Trigger through the API, wait for the worker; answers the run (API), its
    SyncRun.requests and the simulator's stats delta."""
    before = stack.sim.stats()
    job_id = stack.api.trigger_sync()
    run = stack.api.wait_for_run(job_id, timeout=60, stack=stack.stack)
    after = stack.sim.stats()
    assert run["state"] == "succeeded", run
    delta = {
        "requests": after["requests_total"] - before["requests_total"],
        "sync": after["requests_by_kind"]["sync"] - before["requests_by_kind"]["sync"],
        "commands": after["sync_commands_executed"] - before["sync_commands_executed"],
        "429": after["responses_429"] - before["responses_429"],
    }
    return run, _run_row(stack, django_db_blocker, job_id).requests, delta


def test_sync_through_the_worker_to_the_simulator(tmp_path, django_db_blocker) -> None:
    from planner.models import Task
    from todoist_sync.models import TodoistTaskMap

    with e2e_stack(tmp_path, tasks=SEEDED) as stack:
        # 1. The first sync reads the account once, then creates the project and every seeded
        # task in one /sync request.
        run, requests_run, delta = _sync(stack, django_db_blocker)
        assert run["created"] == SEEDED and run["failed"] == 0
        assert requests_run == delta["requests"] == delta["sync"] == 2
        assert delta["429"] == 0

        with django_db_blocker.unblock(), orm_alias(stack.database_url) as alias:
            tasks = list(Task.objects.using(alias).order_by("id"))
            maps = {m.local_task_id: m for m in TodoistTaskMap.objects.using(alias)}
        assert len(tasks) == SEEDED and {t.status for t in tasks} == {"open", "blocked", "done"}
        sim_tasks = [t for t in stack.sim.tasks(stack.todoist_token) if not t["is_deleted"]]
        by_id = {t["id"]: t for t in sim_tasks}
        # Exactly one Todoist task per eligible local task, and nothing else.
        assert len(sim_tasks) == len(by_id) == len(tasks)
        assert {m.todoist_task_id for m in maps.values()} == set(by_id)
        for task in tasks:
            mapping = maps[task.id]
            assert mapping.sync_state == "synced", (task.id, mapping.last_error)
            remote = by_id[mapping.todoist_task_id]
            assert remote["content"] == task.title
            assert remote["description"] == task.description
            assert remote["priority"] == 5 - task.priority
            assert (remote["due"] or {}).get("date") == (
                task.due_date.isoformat() if task.due_date else None
            )
            assert remote["checked"] is (task.status == "done")
            if task.status != "done":
                assert ("blocked" in remote["labels"]) is (task.status == "blocked")

        # 2. One change through the task API: exactly one request, with one command.
        changed = next(t for t in tasks if t.status == "open")
        stack.api.patch_task(changed.id, title=changed.title + " (changed)")
        run, requests_run, delta = _sync(stack, django_db_blocker)
        assert run["updated"] == 1 and run["unchanged"] == SEEDED - 1
        assert requests_run == delta["requests"] == 1 and delta["commands"] == 1
        remote = next(
            t
            for t in stack.sim.tasks(stack.todoist_token)
            if t["id"] == maps[changed.id].todoist_task_id
        )
        assert remote["content"] == changed.title + " (changed)"

        # 3. Nothing changed: nothing sent.
        run, requests_run, delta = _sync(stack, django_db_blocker)
        assert run["unchanged"] == SEEDED
        assert requests_run == delta["requests"] == 0

        procs = list(stack.stack.procs)
    # Everything the stack started has stopped.
    assert all(not proc.alive for proc in procs)


def test_simulator_management_command_runs_and_stops(tmp_path) -> None:
    token = "e2e-command-token-7777"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    with Stack(env=env, log_dir=tmp_path) as s:
        proc = s.start_simulator(tokens=[token], verbose=False, via_manage=True)
        answer = requests.get(
            proc.url + "/tasks", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert answer.status_code == 200 and answer.json()["results"] == []
        # SIGTERM first: the command stops cleanly on it.
        assert proc.stop() == 0, proc.tail()
    assert "NOT Todoist" in proc.log_text()
    assert token not in proc.log_text()
