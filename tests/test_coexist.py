"""Living beside the person who uses Todoist (issue 20): recurring tasks, times of day, archived
projects, tasks a person moves, completions noticed on every kind of read, limits per account.

End to end against the in-process simulator (NOT Todoist), which acts as the person through
`person_task` and friends.
"""

from __future__ import annotations

import datetime

import pytest

from planner.models import EventLog, Task
from tests.factories import run_sync
from todoist_sync import selectors, services
from todoist_sync.models import RateBudget, TodoistAccount, TodoistProject, TodoistTaskMap

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 12, 7)


def reconcile(user, **kwargs):
    return run_sync(user, reconcile=True, trigger="safety-net", **kwargs)


def remote(sim, task: Task) -> dict:
    todoist_id = TodoistTaskMap.objects.get(local_task=task).todoist_task_id
    return next(t for t in sim.tasks("alice") if t["id"] == todoist_id)


def person(sim, task: Task, action: str = "update", **fields) -> dict:
    return sim.person_task("alice", remote(sim, task)["id"], action, **fields)


def planner_project(sim) -> dict:
    [project] = [p for p in sim.projects("alice") if p["name"].startswith("Planner")]
    return project


@pytest.fixture
def task(user, sim):
    """One open task with a due date, pushed."""
    task = Task.objects.create(user=user, title="Water plants", due_date=DAY)
    assert run_sync(user).created == 1
    return task


def sent_commands(sim, monkeypatch) -> list[dict]:
    """Every /sync command the engine sends from now on."""
    from todoist_sync.todoist import TodoistClient

    sent: list[dict] = []
    original = TodoistClient.sync

    def spy(self, commands=(), **kwargs):
        sent.extend(commands)
        return original(self, commands, **kwargs)

    monkeypatch.setattr(TodoistClient, "sync", spy)
    return sent


# -- 2. recurring tasks ---------------------------------------------------------------------------


def test_a_recurrence_set_in_todoist_is_no_drift_and_survives_a_reconcile(user, sim, task):
    person(sim, task, due="every week")
    before = remote(sim, task)["due"]
    assert before["is_recurring"]

    result = reconcile(user)

    assert result.drift_detected == 0
    assert remote(sim, task)["due"] == before


def test_a_recurring_date_moving_on_is_no_drift(user, sim, task):
    person(sim, task, due={"date": DAY.isoformat(), "string": "every week"})
    reconcile(user)
    person(sim, task, "complete")  # ticked in the app: moves on a week
    moved = remote(sim, task)["due"]
    assert moved["date"] == "2026-12-14" and moved["is_recurring"]

    result = reconcile(user)

    assert result.drift_detected == 0 and result.requests == 1
    assert remote(sim, task)["due"] == moved


def test_an_update_without_a_date_change_sends_no_due(user, sim, task, monkeypatch):
    person(sim, task, due={"date": DAY.isoformat(), "string": "every week"})
    reconcile(user)
    sent = sent_commands(sim, monkeypatch)
    Task.objects.filter(pk=task.pk).update(title="Water all plants")

    run_sync(user)

    [update] = [c for c in sent if c["type"] == "item_update"]
    assert "due" not in update["args"]
    assert remote(sim, task)["due"]["is_recurring"]


def test_a_local_date_change_keeps_the_recurrence(user, sim, task):
    person(sim, task, due={"date": DAY.isoformat(), "string": "every week"})
    # No reconcile in between: the run itself finds out what the due is in Todoist.
    Task.objects.filter(pk=task.pk).update(due_date=datetime.date(2026, 12, 9))

    run_sync(user)

    due = remote(sim, task)["due"]
    assert (due["date"], due["string"], due["is_recurring"]) == ("2026-12-09", "every week", True)
    assert reconcile(user).drift_detected == 0


def test_a_local_done_closes_one_occurrence_and_nothing_loops(user, sim, task):
    person(sim, task, due={"date": DAY.isoformat(), "string": "every week"})
    reconcile(user)
    Task.objects.filter(pk=task.pk).update(status="done")

    run_sync(user)
    for _ in range(5):
        result = reconcile(user)
        assert (result.drift_detected, result.reopened, result.closed) == (0, 0, 0)

    after = remote(sim, task)
    assert after["due"]["date"] == "2026-12-14" and not after["checked"]
    assert TodoistTaskMap.objects.get(local_task=task).pushed["done"] is True


def test_recurring_done_complete_ends_the_recurrence(user, sim, task, settings):
    settings.TODOIST_RECURRING_DONE = "complete"
    person(sim, task, due={"date": DAY.isoformat(), "string": "every week"})
    reconcile(user)
    Task.objects.filter(pk=task.pk).update(status="done")

    run_sync(user)

    after = remote(sim, task)
    assert after["checked"] and after["due"]["date"] == DAY.isoformat()
    assert reconcile(user).drift_detected == 0


# -- 3. times of day ------------------------------------------------------------------------------


def test_a_time_added_in_todoist_on_the_same_date_is_no_drift(user, sim, task):
    person(sim, task, due=f"{DAY.isoformat()}T10:00:00")

    result = reconcile(user)

    assert result.drift_detected == 0
    assert remote(sim, task)["due"]["date"] == f"{DAY.isoformat()}T10:00:00"


@pytest.mark.parametrize(
    ("set_there", "expected"),
    [
        ({"date": "2026-12-07T10:00:00"}, ("2026-12-09T10:00:00", None)),
        # 10:00 in Berlin (winter, UTC+1) is 09:00 UTC.
        (
            {"date": "2026-12-07T09:00:00Z", "timezone": "Europe/Berlin"},
            ("2026-12-09T09:00:00Z", "Europe/Berlin"),
        ),
    ],
)
def test_a_local_date_change_keeps_the_time_and_time_zone(user, sim, task, set_there, expected):
    person(sim, task, due=set_there)
    reconcile(user)
    Task.objects.filter(pk=task.pk).update(due_date=datetime.date(2026, 12, 9))

    run_sync(user)

    due = remote(sim, task)["due"]
    assert (due["date"], due["timezone"]) == expected


# -- 4. archived projects -------------------------------------------------------------------------


def test_an_archived_project_is_never_made_again_and_its_tasks_wait(user, sim, task, api_client):
    project = planner_project(sim)
    sim.person_archive_project("alice", project["id"])
    new = Task.objects.create(user=user, title="Repot the fern")

    run = reconcile(user)

    names = [p["name"] for p in sim.projects("alice") if not p["is_deleted"]]
    assert names.count(project["name"]) == 1
    assert planner_project(sim)["is_archived"]  # never unarchived by us
    reason = f"Todoist project {project['name']!r} is archived"
    waiting = TodoistTaskMap.objects.get(local_task=new)
    assert (waiting.sync_state, waiting.waiting_reason, waiting.todoist_task_id) == (
        "pending",
        reason,
        None,
    )
    assert run.failed == 0
    # The mapped task in it is left alone: not deleted, not created again.
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert mapping.sync_state == "synced" and mapping.todoist_task_id == remote(sim, task)["id"]
    assert not remote(sim, task)["is_deleted"]
    blocked = api_client.get("/v1/sync/todoist/status").json()["blocked"]
    assert blocked == [{"project": project["name"], "reason": reason, "waiting": 1}]
    # Still archived: a second run waits again, still without making a project.
    reconcile(user)
    assert [p["name"] for p in sim.projects("alice")].count(project["name"]) == 1

    sim.person_unarchive_project("alice", project["id"])
    reconcile(user)

    waiting.refresh_from_db()
    assert waiting.sync_state == "synced" and waiting.waiting_reason == ""
    assert remote(sim, new)["project_id"] == project["id"]


def test_a_chat_given_another_project_sends_its_waiting_tasks_there(user, sim, task):
    sim.person_archive_project("alice", planner_project(sim)["id"])
    new = Task.objects.create(user=user, title="Repot the fern", chat_id=7)
    reconcile(user)
    assert TodoistTaskMap.objects.get(local_task=new).waiting_reason

    services.chat_project_set(user=user, chat_id=7, project_name="Garden")
    run_sync(user, chat_id=7)

    mapping = TodoistTaskMap.objects.get(local_task=new)
    assert mapping.sync_state == "synced" and mapping.waiting_reason == ""
    garden = remote(sim, new)["project_id"]
    assert next(p for p in sim.projects("alice") if p["id"] == garden)["name"].startswith("Garden")


def test_a_project_deleted_in_todoist_is_created_again_once(user, sim, task):
    project = planner_project(sim)
    sim.person_delete_project("alice", project["id"])
    Task.objects.create(user=user, title="Repot the fern")

    reconcile(user)
    reconcile(user)

    live = [p for p in sim.projects("alice") if p["name"] == project["name"]]
    assert len([p for p in live if not p["is_deleted"]]) == 1
    assert TodoistProject.objects.get().todoist_project_id != project["id"]


# -- 5. moves -------------------------------------------------------------------------------------


def test_a_task_a_person_moved_stays_and_the_move_is_kept(user, sim, task):
    work = sim.person_add_project("alice", "Work")
    person(sim, task, "move", project_id=work["id"])

    result = reconcile(user)

    assert remote(sim, task)["project_id"] == work["id"]
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert mapping.last_drift["outcome"] == "kept" and "project" in mapping.last_drift["fields"]
    assert result.drift_detected == 1 and result.drift_restored == 0
    # Later runs leave it there too, and a local change still goes out.
    Task.objects.filter(pk=task.pk).update(title="Water the office plants")
    run_sync(user)
    reconcile(user)
    assert remote(sim, task)["project_id"] == work["id"]
    assert remote(sim, task)["content"] == "Water the office plants"


def test_a_chat_moved_to_another_project_leaves_a_persons_move_alone(user, sim):
    moved = Task.objects.create(user=user, title="Moved by a person", chat_id=7)
    stays = Task.objects.create(user=user, title="Follows the chat", chat_id=7)
    run_sync(user)
    work = sim.person_add_project("alice", "Work")
    person(sim, moved, "move", project_id=work["id"])
    reconcile(user)

    services.chat_project_set(user=user, chat_id=7, project_name="Garden")
    run_sync(user, chat_id=7)

    assert remote(sim, moved)["project_id"] == work["id"]
    garden = next(p for p in sim.projects("alice") if p["name"].startswith("Garden"))
    assert remote(sim, stays)["project_id"] == garden["id"]


# -- 6. completions, always noticed ---------------------------------------------------------------


def forget_read_position(user) -> None:
    """The stored read position is lost (or Todoist expired it): the next read is a full one."""
    TodoistAccount.objects.filter(user=user).update(items_sync_token="")


@pytest.mark.parametrize("action", ["complete", "delete"])
def test_a_completion_or_deletion_is_noticed_by_a_full_read(user, sim, task, action):
    person(sim, task, action)
    forget_read_position(user)

    result = reconcile(user)

    assert result.drift_detected == 1
    mapping = TodoistTaskMap.objects.get(local_task=task)
    if action == "complete":
        assert mapping.last_drift["fields"]["done"] == {"todoist": True, "local": False}, (
            mapping.last_drift
        )
        assert not remote(sim, task)["checked"]  # restore reopened it
    else:
        assert mapping.last_drift["deleted"] is True


def test_a_full_read_with_everything_there_costs_one_request(user, sim, task):
    forget_read_position(user)
    result = reconcile(user)
    assert (result.drift_detected, result.requests) == (0, 1)


def test_done_in_todoist_adopt_makes_the_local_task_done(user, sim, task, settings, monkeypatch):
    settings.TODOIST_DONE_IN_TODOIST = "adopt"
    person(sim, task, "complete")
    sent = sent_commands(sim, monkeypatch)

    result = reconcile(user)

    task.refresh_from_db()
    assert task.status == "done"
    assert remote(sim, task)["checked"]
    assert [c for c in sent if c["type"] != "project_add"] == []
    assert result.drift_detected == 1
    event = EventLog.objects.get(topic="sync.todoist", data__local_task_id=task.pk)
    assert "completed in Todoist" in event.message and event.data["outcome"] == "adopted"
    assert reconcile(user).requests == 1  # nothing left to send


# -- 7. limits per account ------------------------------------------------------------------------


@pytest.fixture
def sim_accounts(sim_token):
    return {"alice": [sim_token, "sim-token-second-of-alice"]}


def test_every_token_of_one_account_shares_one_budget(user, sim, task, settings):
    reconcile(user)
    settings.TODOIST_API_TOKEN = "sim-token-second-of-alice"
    Task.objects.create(user=user, title="Second token's task")
    run_sync(user)
    reconcile(user)

    account_user = TodoistAccount.objects.filter(user=user).values_list(
        "todoist_user_id", flat=True
    )
    assert len(set(account_user)) == 1
    keys = set(RateBudget.objects.values_list("key", flat=True))
    assert len({k for k in keys if not k.startswith("full")}) == 1, keys


def test_full_reads_have_a_budget_of_their_own(user, sim, task, settings):
    sim.configure(full_sync_limit=3)
    settings.TODOIST_RATE_LIMIT_FULL_SYNCS = 2
    runs = []
    for _ in range(4):
        forget_read_position(user)
        runs.append(reconcile(user))

    assert sim.stats()["responses_429_full_sync"] == 0
    assert runs[-1].state == "deferred" and "full" in runs[-1].error_summary


def test_bad_coexistence_settings_are_system_check_errors(settings):
    from todoist_sync.checks import check_coexistence

    assert check_coexistence() == []
    settings.TODOIST_RECURRING_DONE = "skip"
    settings.TODOIST_DONE_IN_TODOIST = "ignore"
    settings.TODOIST_RATE_LIMIT_FULL_SYNCS = 0
    ids = sorted(e.id for e in check_coexistence())
    assert len(ids) == 3 and len(set(ids)) == 3


def test_the_status_lists_an_archived_project_once(user, sim, task):
    sim.person_archive_project("alice", planner_project(sim)["id"])
    for i in range(3):
        Task.objects.create(user=user, title=f"New {i}")
    reconcile(user)
    [row] = selectors.waiting_by_project(user_id=user.pk)
    assert row["waiting"] == 3 and row["reason"].endswith("is archived")
