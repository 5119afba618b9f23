"""`manage.py sync_todoist` and `manage.py todoist_schedules`: options, output and exit codes.

Todoist is mocked with `responses`; a request nobody registered fails the test.
"""

from __future__ import annotations

from io import StringIO
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django_q.models import Schedule

from planner.models import EventLog, Task
from todoist_sync import services
from todoist_sync.models import SyncRun, TodoistCredential, TodoistTaskMap
from todoist_sync.tokens import encrypt_token

pytestmark = pytest.mark.django_db

SYNC_URL = f"{settings.TODOIST_API_URL}/sync"


@pytest.fixture
def no_todoist(rsps):
    """Any request to Todoist fails the test (responses raises for an unregistered URL)."""
    yield
    assert not rsps.calls


def sync_todoist(*args: str, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("sync_todoist", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


# --- bad arguments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "--user USERNAME"),
        (("--user", "alice", "--all"), "--user USERNAME"),
        (("--user", "nobody", "--user", "alice"), r"Unknown user\(s\): nobody\."),
        (("--all", "--dry-run", "--enqueue"), "exclude each other"),
        (("--all", "--enqueue", "--retry-errors"), "drop --enqueue"),
        (("--all", "--dry-run", "--reconcile"), "--reconcile reads Todoist"),
    ],
)
def test_bad_arguments_are_command_errors(user, no_todoist, args, message):
    with pytest.raises(CommandError, match=message) as raised:
        sync_todoist(*args)
    assert raised.value.returncode == 2
    assert not SyncRun.objects.exists()


def test_a_chat_that_is_not_a_number_is_refused(user):
    with pytest.raises(CommandError, match="invalid int value"):
        sync_todoist("--user", "alice", "--chat", "abc")


# --- inline runs -------------------------------------------------------------------------


def test_inline_run_prints_progress_and_a_summary(user, todoist):
    task = Task.objects.create(user=user, title="Buy milk")

    out, err = sync_todoist("--user", "alice")

    assert [c["type"] for c in todoist.task_commands()] == ["item_add"]
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert (mapping.sync_state, mapping.todoist_task_id) == ("synced", "td-Buy milk")
    run = SyncRun.objects.get()
    assert (run.trigger, run.state, run.created) == ("command", "succeeded", 1)
    assert f"alice: syncing all chats (job {run.job_id})" in out
    assert "alice: batch 1: 1 commands sent" in out
    assert "alice: succeeded: created 1, updated 0" in out
    assert err == ""


def test_inline_run_exits_1_after_the_summary_when_a_task_ends_in_error(user, todoist):
    todoist.rejected.add("Bad")
    Task.objects.create(user=user, title="Good")
    Task.objects.create(user=user, title="Bad")
    out = StringIO()

    with pytest.raises(CommandError, match="tasks in error: 1") as raised:
        call_command("sync_todoist", "--user", "alice", verbosity=2, stdout=out, stderr=StringIO())

    assert raised.value.returncode == 1
    run = SyncRun.objects.get()
    assert (run.created, run.failed) == (1, 1)
    text = out.getvalue()
    assert "alice: succeeded: created 1, updated 0" in text and "failed 1" in text
    assert "'Bad': validation: content" in text  # the task's error, at verbosity 2


def test_chat_scope(user, todoist):
    Task.objects.create(user=user, title="In chat", chat_id=5)
    Task.objects.create(user=user, title="Elsewhere", chat_id=6)
    sync_todoist("--user", "alice", "--chat", "5")
    assert [c["args"]["content"] for c in todoist.task_commands()] == ["In chat"]
    assert SyncRun.objects.get().chat_id == 5


def test_all_users_and_users_without_a_token(user, other_user, todoist):
    third = get_user_model().objects.create_user(username="carol")
    Task.objects.create(user=user, title="alice's")
    Task.objects.create(user=other_user, title="bob's")
    Task.objects.create(user=third, title="carol's")
    TodoistCredential.objects.create(
        user=other_user, token_encrypted=encrypt_token("bob-token-9999"), token_last4="9999"
    )
    get_user_model().objects.create_user(username="dave")  # no tasks: not concerned

    with override_settings(TODOIST_API_TOKEN=""):
        out, _ = sync_todoist("--all")

    # --all syncs whoever can be synced; the others are named, without failing the command.
    assert [c["args"]["content"] for c in todoist.task_commands()] == ["bob's"]
    assert "alice: skipped (No Todoist token" in out and "carol: skipped" in out
    assert "dave" not in out
    assert list(SyncRun.objects.values_list("user__username", flat=True)) == ["bob"]


@override_settings(TODOIST_API_TOKEN="")
def test_a_named_user_without_a_token_exits_1(user, no_todoist):
    Task.objects.create(user=user, title="t")
    with pytest.raises(CommandError) as raised:
        sync_todoist("--user", "alice")
    assert raised.value.returncode == 1
    assert not SyncRun.objects.exists()


def test_a_run_todoist_refuses_exits_1(user, rsps):
    Task.objects.create(user=user, title="t")
    rsps.post(SYNC_URL, status=401, json={"error": "Unauthorized"})
    with pytest.raises(CommandError, match="failed runs: 1") as raised:
        sync_todoist("--user", "alice")
    assert raised.value.returncode == 1
    assert SyncRun.objects.get().state == "failed"


def test_verbosity_0_prints_nothing_on_success(user, todoist):
    Task.objects.create(user=user, title="t")
    out, err = sync_todoist("--user", "alice", verbosity=0)
    assert (out, err) == ("", "")
    assert TodoistTaskMap.objects.get().sync_state == "synced"


def test_retry_errors_includes_permanent_errors(user, todoist):
    todoist.rejected.add("Bad")
    task = Task.objects.create(user=user, title="Bad")
    with pytest.raises(CommandError):
        sync_todoist("--user", "alice")
    assert TodoistTaskMap.objects.get().error_permanent
    todoist.rejected.clear()  # say the refusal was lifted on Todoist's side; the task is unchanged
    todoist.sent.clear()

    out, _ = sync_todoist("--user", "alice", "--dry-run")
    assert f"  skip      task {task.pk} 'Bad': permanent error: validation: content" in out
    out, _ = sync_todoist("--user", "alice", "--dry-run", "--retry-errors")
    assert "would create 1" in out
    sync_todoist("--user", "alice")
    assert todoist.sent == []  # without the flag a permanent error waits for a change

    sync_todoist("--user", "alice", "--retry-errors")

    assert [c["args"]["content"] for c in todoist.task_commands()] == ["Bad"]
    assert TodoistTaskMap.objects.get().sync_state == "synced"


# --- dry run -----------------------------------------------------------------------------


def test_dry_run_prints_each_decision_and_sends_and_writes_nothing(user, todoist):
    renamed = Task.objects.create(user=user, title="Draft")
    closed = Task.objects.create(user=user, title="Chore")
    Task.objects.create(user=user, title="Same")
    sync_todoist("--user", "alice")
    Task.objects.filter(pk=renamed.pk).update(title="Final")
    Task.objects.filter(pk=closed.pk).update(status="done")
    new = Task.objects.create(user=user, title="New one")
    odd = Task.objects.create(user=user, title="Odd", status="someday")
    todoist.sent.clear()
    before = (
        SyncRun.objects.count(),
        EventLog.objects.count(),
        list(TodoistTaskMap.objects.values_list("updated_at", "sync_state", "inflight")),
    )

    out, _ = sync_todoist("--user", "alice", "--dry-run")

    assert todoist.sent == []
    after = (
        SyncRun.objects.count(),
        EventLog.objects.count(),
        list(TodoistTaskMap.objects.values_list("updated_at", "sync_state", "inflight")),
    )
    assert after == before
    lines = out.splitlines()
    assert f"  create    task {new.pk} 'New one': not in Todoist yet" in lines
    assert any(line.startswith(f"  update    task {renamed.pk} 'Final': ") for line in lines)
    assert any(line.startswith(f"  close     task {closed.pk} 'Chore': ") for line in lines)
    assert f"  skip      task {odd.pk} 'Odd': unknown status 'someday'" in lines
    assert not any("unchanged" in line and "'Same'" in line for line in lines)
    assert "alice: would create 1, update 1, close 1, reopen 0, resend 0; " in out
    assert "skip 1, invalid 0, unchanged 1" in out

    detailed, _ = sync_todoist("--user", "alice", "--dry-run", verbosity=2)
    assert any("unchanged" in line and "'Same'" in line for line in detailed.splitlines())


def test_dry_run_needs_no_token(user, no_todoist):
    Task.objects.create(user=user, title="t")
    with override_settings(TODOIST_API_TOKEN=""):
        out, _ = sync_todoist("--user", "alice", "--dry-run")
    assert "would create 1" in out


# --- enqueue -----------------------------------------------------------------------------


def test_enqueue_queues_the_job_and_prints_its_id(
    user, no_todoist, queued_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = sync_todoist("--user", "alice", "--enqueue", "--chat", "9")
    run = SyncRun.objects.get()
    assert (run.state, run.trigger, run.chat_id) == ("queued", "command", 9)
    assert out.strip() == f"alice: queued job {run.job_id}"
    queued_jobs.assert_called_once_with(run)


def test_reconcile_is_carried_by_the_queued_run(user, no_todoist, queued_jobs):
    sync_todoist("--user", "alice", "--enqueue")
    assert SyncRun.objects.get().reconcile is False
    sync_todoist("--user", "alice", "--enqueue", "--reconcile")  # joins it, and widens it
    assert SyncRun.objects.get().reconcile is True


def test_an_inline_reconcile_passes_the_wish_to_the_run(user, no_todoist):
    with mock.patch.object(services, "sync_run_execute") as execute:
        execute.return_value = SyncRun(job_id="j", user=user, state="succeeded")
        sync_todoist("--user", "alice", "--reconcile")
    assert execute.call_args.kwargs["reconcile"] is True


def test_enqueue_joins_a_queued_run(user, no_todoist, queued_jobs):
    first, _ = sync_todoist("--user", "alice", "--enqueue")
    second, _ = sync_todoist("--user", "alice", "--enqueue")
    assert first == second
    assert SyncRun.objects.count() == 1


# --- todoist_schedules -------------------------------------------------------------------


@override_settings(TODOIST_SAFETY_NET_MINUTES=15)
def test_schedules_install_the_sweep_and_say_whom_it_covers(user, other_user):
    Task.objects.create(user=user, title="t")
    Task.objects.create(user=other_user, title="t")
    get_user_model().objects.create_user(username="no-tasks")
    out = StringIO()

    call_command("todoist_schedules", stdout=out)
    call_command("todoist_schedules", stdout=StringIO())  # again: updated, not duplicated

    [schedule] = Schedule.objects.all()
    assert (schedule.name, schedule.func, schedule.schedule_type, schedule.minutes) == (
        "todoist-safety-net",
        "todoist_sync.tasks.safety_net_sweep",
        Schedule.MINUTES,
        15,
    )
    assert "Safety-net sweep every 15 minutes; it covers 2 user(s) now" in out.getvalue()


@override_settings(TODOIST_API_TOKEN="")
def test_schedules_count_only_users_with_a_token(user, other_user):
    Task.objects.create(user=user, title="t")
    Task.objects.create(user=other_user, title="t")
    TodoistCredential.objects.create(
        user=other_user, token_encrypted=encrypt_token("bob-token-9999"), token_last4="9999"
    )
    out = StringIO()
    call_command("todoist_schedules", stdout=out)
    assert "it covers 1 user(s) now" in out.getvalue()


def test_an_internal_error_of_one_user_does_not_stop_the_others(user, other_user, todoist):
    Task.objects.create(user=user, title="alice's")
    Task.objects.create(user=other_user, title="bob's")
    real = services.sync_run_execute

    def crash_for_alice(**kwargs):
        if kwargs["user_id"] == user.pk:
            raise RuntimeError("boom")
        return real(**kwargs)

    err = StringIO()
    with mock.patch("todoist_sync.services.sync_run_execute", side_effect=crash_for_alice):
        with pytest.raises(CommandError, match="failed runs: 1") as raised:
            call_command("sync_todoist", "--all", stdout=StringIO(), stderr=err)

    assert raised.value.returncode == 1
    assert "alice: internal error (RuntimeError)" in err.getvalue()
    assert [c["args"]["content"] for c in todoist.task_commands()] == ["bob's"]
