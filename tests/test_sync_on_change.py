"""Sync on change: a saved task queues a sync of its user after commit, coalesced.

pytest-django runs each test in a transaction, so "commit" is simulated with
`django_capture_on_commit_callbacks(execute=True)`: one block is one committed transaction.
"""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from django.db import transaction
from django.test import override_settings

from planner.models import Task
from todoist_sync import services, signals
from todoist_sync.models import SyncRun, TodoistTaskMap

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueue_spy():
    with mock.patch("todoist_sync.services.sync_enqueue", wraps=services.sync_enqueue) as patched:
        yield patched


def ours(callbacks) -> list:
    """The distinct syncs our callbacks stand for (one per user per commit, however many saves)."""
    syncs = [getattr(c, "__self__", None) for c in callbacks]
    return list({id(s): s for s in syncs if isinstance(s, signals.UserSyncOnCommit)}.values())


def test_a_burst_in_one_transaction_queues_one_sync(
    user, queued_jobs, enqueue_spy, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            tasks = [Task.objects.create(user=user, title=f"t{n}") for n in range(50)]
            for task in tasks:
                task.priority = 1
                task.save()

    assert len(ours(callbacks)) == 1
    enqueue_spy.assert_called_once()
    run = SyncRun.objects.get()
    assert (run.user, run.trigger, run.chat_id, run.task_ids) == (user, "change", None, None)
    queued_jobs.assert_called_once_with(run)


def test_a_burst_of_separate_transactions_joins_the_queued_run(
    user, queued_jobs, enqueue_spy, django_capture_on_commit_callbacks
):
    for n in range(100):
        with django_capture_on_commit_callbacks(execute=True):
            Task.objects.create(user=user, title=f"t{n}")

    assert enqueue_spy.call_count == 100  # one per commit...
    assert SyncRun.objects.count() == 1  # ...all joining the run still queued
    queued_jobs.assert_called_once()


def test_each_user_gets_their_own_sync(
    user, other_user, queued_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for n in range(5):
            Task.objects.create(user=user, title=f"a{n}")
            Task.objects.create(user=other_user, title=f"b{n}")

    assert len(ours(callbacks)) == 2
    assert sorted(SyncRun.objects.values_list("user__username", flat=True)) == ["alice", "bob"]


def test_a_rolled_back_change_does_not_swallow_the_next_one(
    user, queued_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            Task.objects.create(user=user, title="rolled back")
            raise RuntimeError
        Task.objects.create(user=user, title="kept")

    assert SyncRun.objects.count() == 1


def test_nothing_is_queued_before_the_commit(user, queued_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Task.objects.create(user=user, title="t")
    assert len(ours(callbacks)) == 1
    assert not SyncRun.objects.exists()


@override_settings(TODOIST_SYNC_ON_CHANGE=False)
def test_the_setting_turns_it_off(user, queued_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Task.objects.create(user=user, title="t")
    assert ours(callbacks) == []
    assert not SyncRun.objects.exists()


def test_fixtures_being_loaded_are_ignored(user, django_capture_on_commit_callbacks):
    task = Task(user=user, title="from a fixture")
    with django_capture_on_commit_callbacks() as callbacks:
        signals.task_saved(sender=Task, instance=task, raw=True, using="default")
    assert callbacks == []


@override_settings(TODOIST_API_TOKEN="")
def test_a_user_without_a_token_is_skipped_quietly(
    user, queued_jobs, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG, logger="todoist_sync")
    with django_capture_on_commit_callbacks(execute=True):
        task = Task.objects.create(user=user, title="t")

    assert Task.objects.filter(pk=task.pk).exists()
    assert not SyncRun.objects.exists()
    queued_jobs.assert_not_called()
    assert [r.levelname for r in caplog.records if r.name == "todoist_sync.signals"] == ["DEBUG"]


def test_a_failing_enqueue_never_breaks_the_save(user, caplog, django_capture_on_commit_callbacks):
    failure = RuntimeError("could not connect with token tok-SECRET-1234")
    with mock.patch("todoist_sync.services.sync_enqueue", side_effect=failure):
        with django_capture_on_commit_callbacks(execute=True):
            task = Task.objects.create(user=user, title="t")

    assert Task.objects.filter(pk=task.pk).exists()
    [record] = [r for r in caplog.records if r.name == "todoist_sync.signals"]
    assert record.levelname == "ERROR" and "RuntimeError" in record.getMessage()
    assert "SECRET" not in caplog.text


def test_a_failing_receiver_never_breaks_the_save(user, caplog):
    with mock.patch("todoist_sync.signals.sync_on_change_schedule", side_effect=ValueError("boom")):
        task = Task.objects.create(user=user, title="t")
    assert Task.objects.filter(pk=task.pk).exists()
    assert "ValueError" in caplog.text


def test_changes_through_the_api_sync_to_todoist_once(
    api_client, user, todoist, django_capture_on_commit_callbacks
):
    """End to end, not patched: the API's save queues the job, which runs inline (Q sync mode)
    against Todoist mocked by `responses`; the engine's own writes queue nothing more."""
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/v1/tasks", {"title": "Buy milk"}, format="json")
    assert response.status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        api_client.patch(f"/v1/tasks/{response.json()['id']}", {"priority": 1}, format="json")

    assert [c["type"] for c in todoist.task_commands()] == ["item_add", "item_update"]
    assert todoist.task_commands()[1]["args"] == {"id": "td-Buy milk", "priority": 4}
    assert TodoistTaskMap.objects.get().sync_state == "synced"
    assert list(SyncRun.objects.values_list("trigger", "state")) == [
        ("change", "succeeded"),
        ("change", "succeeded"),
    ]


def test_a_change_in_the_admin_queues_a_sync(
    admin_client, user, queued_jobs, enqueue_spy, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        task = Task.objects.create(user=user, title="old")
    enqueue_spy.reset_mock()
    data = {"user": user.pk, "title": "new", "status": "open", "priority": 4, "description": ""}
    data.update({"todoist_maps-TOTAL_FORMS": 0, "todoist_maps-INITIAL_FORMS": 0})

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/planner/task/{task.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Task.objects.get(pk=task.pk).title == "new"
    enqueue_spy.assert_called_once()
    assert enqueue_spy.call_args.kwargs["user"] == user
