"""Drift: what a person changes in Todoist is noticed by a reconcile (one read), and local truth
is put back in the same run (TODOIST_DRIFT_POLICY=restore) or only reported (`report`).

Against the in-process simulator (NOT Todoist), which acts as a person through `person_task`.
"""

from __future__ import annotations

import datetime

import pytest

from planner.models import EventLog, Task
from tests.factories import run_sync
from todoist_sync import selectors, services
from todoist_sync.models import SyncRun, TodoistAccount, TodoistTaskMap

pytestmark = pytest.mark.django_db


def reconcile(user, **kwargs):
    return run_sync(user, reconcile=True, trigger="safety-net", **kwargs)


def remote(sim, task: Task) -> dict:
    todoist_id = TodoistTaskMap.objects.get(local_task=task).todoist_task_id
    return next(t for t in sim.tasks("alice") if t["id"] == todoist_id)


def requests_sent(sim) -> int:
    return sim.stats()["requests_total"]


@pytest.fixture
def synced(user, sim):
    """Three tasks pushed: an open one with everything set, a blocked one, a done one."""
    tasks = {
        "open": Task.objects.create(
            user=user,
            title="Buy milk",
            description="two litres",
            priority=2,
            due_date=datetime.date(2026, 3, 1),
        ),
        "blocked": Task.objects.create(user=user, title="Waiting on Bob", status="blocked"),
        "done": Task.objects.create(user=user, title="Filed taxes", status="done"),
    }
    first = run_sync(user)
    assert first.failed == 0 and first.created == 3
    return tasks


def person(sim, task: Task, action: str = "update", **fields) -> dict:
    return sim.person_task("alice", remote(sim, task)["id"], action, **fields)


# -- each kind of drift is restored by the next reconcile ----------------------------------------


@pytest.mark.parametrize(
    ("kind", "action", "fields", "field_name"),
    [
        ("open", "update", {"content": "Buy oat milk"}, "content"),
        ("open", "update", {"description": "one litre"}, "description"),
        ("open", "update", {"priority": 1}, "priority"),
        ("open", "update", {"due": "2026-04-15"}, "due_date"),
        ("open", "update", {"due": None}, "due_date"),
        ("open", "complete", {}, "done"),
        ("done", "reopen", {}, "done"),
        ("blocked", "update", {"labels": []}, "blocked"),
    ],
)
def test_a_change_in_todoist_is_restored_by_the_next_reconcile(
    user, sim, synced, kind, action, fields, field_name
):
    task = synced[kind]
    before = remote(sim, task)
    person(sim, task, action, **fields)
    assert remote(sim, task) != before

    result = reconcile(user)

    assert (result.drift_detected, result.drift_restored, result.drift_reported) == (1, 1, 0)
    after = remote(sim, task)
    for name in ("content", "description", "priority", "due", "checked", "labels"):
        assert after[name] == before[name], name
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert mapping.sync_state == "synced"
    assert field_name in mapping.last_drift["fields"]
    assert mapping.last_drift["outcome"] == "restored" and mapping.last_drift_at is not None
    # One read, then one /sync with the commands that put it back.
    assert result.requests == 2
    assert reconcile(user).requests == 1  # restored: the next reconcile finds nothing


def test_a_task_moved_to_another_project_stays_there(user, sim, synced):
    # The project a person moves a task into is Todoist's (README "Who owns which field").
    task = synced["open"]
    elsewhere = sim.person_add_project("alice", "Someday")
    person(sim, task, "move", project_id=elsewhere["id"])

    result = reconcile(user)

    assert (result.drift_detected, result.drift_restored) == (1, 0)
    assert remote(sim, task)["project_id"] == elsewhere["id"]
    drift = TodoistTaskMap.objects.get(local_task=task).last_drift
    moved = {"todoist": f"project id {elsewhere['id']}", "local": "Planner (alice)"}
    assert drift["fields"]["project"] == moved and drift["outcome"] == "kept"


def test_a_move_to_the_inbox_is_named_inbox(user, sim, synced):
    task = synced["open"]
    person(sim, task, "move", project_id=sim.inbox_id("alice"))
    reconcile(user)
    drift = TodoistTaskMap.objects.get(local_task=task).last_drift["fields"]
    assert drift["project"]["todoist"] == "Inbox"
    assert remote(sim, task)["project_id"] == sim.inbox_id("alice")


def test_a_task_deleted_in_todoist_is_reported_permanent_by_default(user, sim, synced):
    task = synced["open"]
    person(sim, task, "delete")

    result = reconcile(user)

    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert mapping.sync_state == "error" and mapping.error_permanent
    assert "deleted in Todoist" in mapping.last_error
    assert mapping.last_drift["deleted"] is True
    assert (result.drift_detected, result.drift_reported, result.failed) == (1, 1, 1)
    assert result.requests == 1  # nothing is sent for it
    assert len([t for t in sim.tasks("alice") if not t["is_deleted"]]) == 2


def test_a_task_deleted_in_todoist_is_created_again_with_recreate_deleted(
    user, sim, synced, settings
):
    settings.TODOIST_RECREATE_DELETED = True
    task = synced["open"]
    old_id = remote(sim, task)["id"]
    person(sim, task, "delete")

    result = reconcile(user)

    assert (result.drift_detected, result.drift_restored, result.created) == (1, 1, 1)
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert mapping.todoist_task_id not in (None, old_id) and mapping.sync_state == "synced"
    again = remote(sim, task)
    assert (again["content"], again["description"], again["priority"]) == (
        "Buy milk",
        "two litres",
        3,
    )
    assert result.requests == 2  # the read, then one /sync with the item_add


# -- report only ---------------------------------------------------------------------------------


def test_report_mode_leaves_todoist_alone_and_shows_the_drift(user, sim, synced, settings):
    settings.TODOIST_DRIFT_POLICY = "report"
    task = synced["open"]
    person(sim, task, content="Renamed by a person", priority=4)

    result = reconcile(user)

    assert remote(sim, task)["content"] == "Renamed by a person"
    assert (result.drift_detected, result.drift_restored, result.drift_reported) == (1, 0, 1)
    assert result.requests == 1
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert mapping.last_drift["fields"]["content"] == {
        "todoist": "Renamed by a person",
        "local": "Buy milk",
    }
    assert mapping.last_drift["fields"]["priority"] == {"todoist": 4, "local": 3}
    assert mapping.pushed["content"] == "Buy milk"  # what we pushed is kept
    event = EventLog.objects.get(topic="sync.todoist", data__local_task_id=task.pk, level="warning")
    assert "changed (content, priority) in Todoist: reported only" in event.message
    assert event.data["drift"]["content"]["todoist"] == "Renamed by a person"
    # Reported once: the token moved on, so the next reconcile finds nothing new.
    again = reconcile(user)
    assert (again.drift_detected, again.requests) == (0, 1)
    assert remote(sim, task)["content"] == "Renamed by a person"


def test_the_status_shows_the_drift(user, sim, synced, api_client):
    person(sim, synced["open"], content="Renamed")
    person(sim, synced["blocked"], labels=[])
    reconcile(user)
    body = api_client.get("/v1/sync/todoist/status").json()
    drift = body["drift"]
    assert (drift["detected"], drift["restored"], drift["reported"]) == (2, 2, 0)
    assert drift["last_checked_at"] is not None
    assert selectors.drift_summary(user_id=user.pk)["detected"] == 2


# -- costs ---------------------------------------------------------------------------------------


def test_an_unchanged_reconcile_costs_exactly_one_request(user, sim, synced):
    token_before = TodoistAccount.objects.get(user=user).items_sync_token
    sent = requests_sent(sim)
    result = reconcile(user)
    assert requests_sent(sim) - sent == 1 and result.requests == 1
    assert result.drift_detected == 0 and result.reconciled_at is not None
    assert TodoistAccount.objects.get(user=user).items_sync_token != token_before


def test_a_change_triggered_run_does_no_read(user, sim, synced):
    person(sim, synced["open"], content="Renamed by a person")
    sent = requests_sent(sim)
    for trigger in ("change", "api"):
        result = run_sync(user, trigger=trigger)
        assert (result.requests, result.drift_detected, result.reconciled_at) == (0, 0, None)
    assert requests_sent(sim) == sent
    assert remote(sim, synced["open"])["content"] == "Renamed by a person"


# -- what is never touched -----------------------------------------------------------------------


def test_a_persons_own_label_survives_a_restore(user, sim, synced):
    task = synced["blocked"]
    # The person drops our label and adds their own.
    person(sim, task, labels=["errand"])
    result = reconcile(user)
    assert result.drift_restored == 1
    assert remote(sim, task)["labels"] == ["errand", "blocked"]
    # The labels came with the reconcile's read: no second read of them.
    assert result.requests == 2


def test_a_task_the_sync_did_not_create_is_never_touched(user, sim, synced):
    theirs = sim.person_add_task("alice", "A person's own task", priority=4)
    sim.person_task("alice", theirs["id"], "update", content="Still their own")
    sim.person_task("alice", theirs["id"], "complete")
    result = reconcile(user)
    assert result.drift_detected == 0 and result.requests == 1
    [mine] = [t for t in sim.tasks("alice") if t["id"] == theirs["id"]]
    assert (mine["content"], mine["checked"], mine["priority"]) == ("Still their own", True, 4)


# -- the ways to ask for one ---------------------------------------------------------------------


def test_a_widened_queued_run_keeps_reconcile(user, sim, queued_jobs):
    first = services.sync_enqueue(user=user, trigger="safety-net", reconcile=True)
    joined = services.sync_enqueue(user=user, trigger="change")
    assert joined.pk == first.pk and SyncRun.objects.get(pk=first.pk).reconcile
    SyncRun.objects.all().delete()
    plain = services.sync_enqueue(user=user, trigger="change")
    widened = services.sync_enqueue(user=user, trigger="api", reconcile=True)
    assert widened.pk == plain.pk and SyncRun.objects.get(pk=plain.pk).reconcile


def test_the_safety_net_queues_reconciling_runs(user, sim, queued_jobs):
    Task.objects.create(user=user, title="t")
    assert services.safety_net_slice(user_ids=[user.pk]) == 1
    assert SyncRun.objects.get(user=user).reconcile is True


def test_a_queued_reconcile_run_reconciles_when_the_job_runs(user, sim, synced):
    person(sim, synced["open"], content="Renamed by a person")
    queued = SyncRun.objects.create(job_id="j-drift", user=user, reconcile=True)
    run_sync(user, job_id=queued.job_id)
    queued.refresh_from_db()
    assert queued.drift_restored == 1
    assert remote(sim, synced["open"])["content"] == "Buy milk"


def test_the_admin_action_queues_one_reconciling_run_per_user(
    admin_client, user, sim, synced, queued_jobs
):
    pks = list(TodoistTaskMap.objects.values_list("pk", flat=True))
    response = admin_client.post(
        "/admin/todoist_sync/todoisttaskmap/",
        {"action": "reconcile_mappings", "_selected_action": [str(pk) for pk in pks]},
        follow=True,
    )
    messages = [m.message for m in response.context["messages"]]
    assert messages == ["Reconcile with Todoist queued for 1 user(s)."]
    queued = SyncRun.objects.get(state="queued")
    assert (queued.user, queued.trigger, queued.reconcile) == (user, "admin", True)


def test_the_mapping_admin_shows_the_last_drift(admin_client, user, sim, synced):
    person(sim, synced["open"], content="Renamed by a person")
    reconcile(user)
    mapping = TodoistTaskMap.objects.get(local_task=synced["open"])
    page = admin_client.get(f"/admin/todoist_sync/todoisttaskmap/{mapping.pk}/change/")
    assert "Renamed by a person" in page.content.decode()


def test_a_bad_drift_policy_is_a_system_check_error(settings):
    from todoist_sync.checks import check_drift_policy

    assert check_drift_policy() == []
    settings.TODOIST_DRIFT_POLICY = "fix"
    [error] = check_drift_policy()
    assert error.id == "todoist_sync.E012" and "restore, report" in error.msg
