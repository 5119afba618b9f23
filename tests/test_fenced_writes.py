"""Fenced writes: a run that stalled past its lease writes nothing more, and no write but a
deliberate one ever replaces a Todoist id with NULL."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from planner.models import EventLog
from tests.factories import make_task, run_sync, sim_tasks
from todoist_sync import services
from todoist_sync.models import (
    SyncLease,
    SyncRun,
    TodoistAccount,
    TodoistChatProject,
    TodoistProject,
    TodoistTaskMap,
)
from todoist_sync.services import engine
from todoist_sync.services.persistence import forget_todoist_id, mappings_save
from todoist_sync.services.transport import Transport

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


# -- every write of a run, not only the mappings' (issue 18, item 8) ------------------------------


@pytest.fixture
def stall(user, monkeypatch, settings):
    """`stall(n)`: the run stalls while its n-th request is out. Its lease expires and another
    run takes the user over; then the answer arrives and the run carries on as if nothing
    happened. Runs happen only when a test calls them (no sync on change)."""
    settings.TODOIST_SYNC_ON_CHANGE = False
    answers = {"seen": 0, "stall_at": None}

    def answered() -> None:
        answers["seen"] += 1
        if answers["seen"] == answers["stall_at"]:
            take_the_lease_over(user)

    real_send, real_outcome = Transport.send, Transport.sync_outcome

    def send(self, call, **kwargs):
        answer = real_send(self, call, **kwargs)
        answered()
        return answer

    def sync_outcome(self, in_flight):
        outcome = real_outcome(self, in_flight)
        answered()
        return outcome

    monkeypatch.setattr(Transport, "send", send)
    monkeypatch.setattr(Transport, "sync_outcome", sync_outcome)

    def arm(request: int) -> None:
        answers.update(seen=0, stall_at=request)

    return arm


def take_the_lease_over(user) -> None:
    SyncLease.objects.filter(user_id=user.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert services.lease_acquire(user_id=user.pk, holder="the-next-run")


def lost_its_lease(run) -> bool:
    return run.state == "failed" and "lost the sync lease" in run.error_summary


def account_fields(user) -> list[tuple]:
    fields = (
        "items_sync_token",
        "projects_sync_token",
        "inbox_project_id",
        "todoist_user_id",
        "replaced_at",
    )
    return list(TodoistAccount.objects.filter(user=user).values_list(*fields))


def project_fields(user) -> list[tuple]:
    fields = ("name", "todoist_project_id", "request_id", "refused_reason", "full_since")
    return list(TodoistProject.objects.filter(account__user=user).values_list(*fields))


def test_a_stalled_first_read_stores_no_sync_token_inbox_or_todoist_user(user, sim, stall):
    make_task(user, "First")
    stall(1)  # the account's first read: "*", with the inbox and the user
    run = run_sync(user)
    assert lost_its_lease(run)
    assert account_fields(user) == [("", "", "", "", None)]
    assert project_fields(user) == []  # no project row, no request id either


def test_a_stalled_project_add_stores_no_project_id(user, sim, stall):
    make_task(user, "First")
    stall(2)  # the first batch: the project_add and the task's create
    run = run_sync(user)
    assert lost_its_lease(run)
    [(name, project_id, request_id, _, _)] = project_fields(user)
    assert request_id and project_id is None  # committed before it left; its answer, not
    assert [p["name"] for p in sim.projects("alice") if p["name"] == name] == [name]


def test_a_stalled_read_of_the_projects_stores_no_token_and_makes_no_project(user, sim, stall):
    make_task(user, "First")
    run_sync(user)
    TodoistChatProject.objects.create(user=user, chat_id=7, project_name="Work")
    make_task(user, "At work", chat_id=7)
    accounts, projects = account_fields(user), project_fields(user)
    stall(1)  # "Work" is a name not seen before: every project is read again
    run = run_sync(user)
    assert lost_its_lease(run)
    assert (account_fields(user), project_fields(user)) == (accounts, projects)


def test_a_stalled_batch_that_finds_the_project_full_stores_no_full_since(user, sim, stall):
    make_task(user, "First")
    run_sync(user)
    sim.configure(project_task_cap=1)
    make_task(user, "Second")
    stall(1)  # the batch: Todoist answers that the project is full
    run = run_sync(user)
    assert lost_its_lease(run)
    [(*_, full_since)] = project_fields(user)
    assert full_since is None


def test_a_stalled_reconcile_stores_no_sync_token(user, sim, stall):
    make_task(user, "First")
    run_sync(user)
    make_task(user, "Second")
    run_sync(user)  # Todoist's changes since the stored token: both creates
    accounts = account_fields(user)
    stall(1)  # the reconcile's read
    run = run_sync(user, reconcile=True)
    assert lost_its_lease(run)
    assert account_fields(user) == accounts


def test_a_stalled_reconcile_hands_over_no_drift_report(user, sim, stall):
    task = make_task(user, "First")
    run_sync(user)
    mapping = TodoistTaskMap.objects.get(local_task=task)
    sim.person_task("alice", mapping.todoist_task_id, content="Renamed in Todoist")
    stall(1)  # the reconcile's read, which shows the rename
    run = run_sync(user, reconcile=True)
    assert lost_its_lease(run)
    assert TodoistTaskMap.objects.get(pk=mapping.pk).last_drift is None
    # The run that took over reads the same change and reports it: once, not twice.
    assert not EventLog.objects.filter(user=user, message__contains="in Todoist").exists()


def test_a_stalled_run_reaps_no_run_of_the_one_that_took_over(user, sim, stall, monkeypatch):
    make_task(user, "First")
    taken_over = SyncRun.objects.create(
        job_id="the-next-run", user=user, state="running", trigger="api"
    )
    real_reap = engine.runs_reap_lost

    def stall_then_reap(**kwargs):
        take_the_lease_over(user)
        real_reap(**kwargs)

    monkeypatch.setattr(engine, "runs_reap_lost", stall_then_reap)
    run = run_sync(user)
    assert lost_its_lease(run)
    taken_over.refresh_from_db()
    assert (taken_over.state, taken_over.error_summary) == ("running", "")
