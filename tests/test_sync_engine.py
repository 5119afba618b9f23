"""The sync engine against the Todoist simulator: acceptance criteria 1-4 and the error policy."""

from __future__ import annotations

import ast
import datetime
import json
import logging

import pytest
import requests
from django.utils import timezone
from django_q.models import Schedule

from planner.models import EventLog, Task
from tests.factories import make_task, run_sync, run_through_every_failure, sim_tasks
from todoist_sync import services
from todoist_sync.models import RateBudget, SyncLease, SyncRun, TodoistTaskMap
from todoist_sync.services import budget, engine, lease, planning
from todoist_sync.services.budget import BUDGET_MARGIN_SECONDS
from todoist_sync.services.outcomes import OutcomePolicy


def account_budget(user) -> str:
    """The request budget of the user's Todoist account (every token of it shares it)."""
    from todoist_sync.models import TodoistAccount

    todoist_user = TodoistAccount.objects.get(user=user).todoist_user_id
    return budget.account_budget_key(todoist_user)


pytestmark = pytest.mark.django_db


@pytest.fixture(params=["batch", "single"])
def mode(request, settings):
    """Both push paths: /sync batches and the single-task endpoints."""
    settings.TODOIST_USE_BATCH = request.param == "batch"
    return request.param


def edit_after_deletion_in_todoist(user, sim, token: str, title: str) -> str:
    """A task synced, then deleted in Todoist by hand (the app never deletes), then edited and
    synced again; answers the Todoist id it had."""
    task = make_task(user, title)
    run_sync(user)
    todoist_id = TodoistTaskMap.objects.get().todoist_task_id
    deleted = requests.delete(
        f"{sim.url}/tasks/{todoist_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    deleted.raise_for_status()
    task.title = f"{title}, edited"
    task.save()
    run_sync(user)
    return todoist_id


# --- acceptance criteria ------------------------------------------------------------------


def test_ac1_new_task_syncs_once_with_a_stable_mapping(user, sim, mode):
    task = make_task(user, "Buy milk", priority=1, due_date=datetime.date(2026, 12, 24))
    run = run_sync(user)
    assert (run.state, run.created, run.failed) == ("succeeded", 1, 0)
    [remote] = sim_tasks(sim)
    assert remote["content"] == "Buy milk"
    assert remote["priority"] == 4  # local p1 is Todoist's 4
    assert remote["due"]["date"] == "2026-12-24"
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert mapping.todoist_task_id == remote["id"]
    assert mapping.sync_state == "synced"

    again = run_sync(user)
    assert again.created == 0 and again.unchanged == 1
    assert len(sim_tasks(sim)) == 1
    assert TodoistTaskMap.objects.get(local_task=task).todoist_task_id == remote["id"]


def test_ac2_local_updates_propagate_to_the_mapped_task(user, sim, mode):
    task = make_task(
        user, "Draft", description="v1", priority=4, due_date=datetime.date(2026, 1, 2)
    )
    run_sync(user)
    task.title, task.description, task.priority, task.due_date = "Final", "v2", 2, None
    task.save()
    run = run_sync(user)
    assert (run.updated, run.created) == (1, 0)
    [remote] = sim_tasks(sim)
    assert (remote["content"], remote["description"], remote["priority"]) == ("Final", "v2", 3)
    assert remote["due"] is None  # a cleared date clears it in Todoist


def test_ac3_done_closes_and_back_to_open_reopens(user, sim, mode):
    task = make_task(user, "Ship it")
    run_sync(user)
    task.status = "done"
    task.save()
    assert run_sync(user).closed == 1
    assert sim_tasks(sim)[0]["checked"] is True
    task.status = "open"
    task.save()
    assert run_sync(user).reopened == 1
    assert sim_tasks(sim)[0]["checked"] is False


def test_task_created_done_is_created_then_closed(user, sim, mode):
    make_task(user, "Already done", status="done")
    run = run_sync(user)
    assert (run.created, run.closed) == (1, 1)
    assert sim_tasks(sim)[0]["checked"] is True


def test_ac4_rerun_on_unchanged_tasks_sends_nothing(user, sim, mode):
    for i in range(5):
        make_task(user, f"T{i}", status=["open", "blocked", "done"][i % 3])
    run_sync(user)
    before = sim.stats()["requests_total"]
    run = run_sync(user)
    assert run.requests == 0
    assert sim.stats()["requests_total"] == before
    assert run.unchanged == 5


def test_mapping_rows_are_the_only_reference_for_updates(user, sim, sim_token):
    task = make_task(user, "One")
    run_sync(user)
    # Another Todoist task with the same content exists: the mapping, not the content, decides.
    other = sim.person_add_task("alice", "One")
    mapping = TodoistTaskMap.objects.get(local_task=task)
    mapping.todoist_task_id = other["id"]
    mapping.save()
    task.title = "Renamed"
    task.save()
    run_sync(user)
    by_id = {t["id"]: t["content"] for t in sim_tasks(sim)}
    assert by_id[other["id"]] == "Renamed"
    assert sorted(by_id.values()) == ["One", "Renamed"]


def test_success_sets_synced_and_clears_error_and_retry_fields(user, sim):
    task = make_task(user, "Heal me")
    sim.configure(error_rate=1.0)
    run_sync(user)
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert mapping.sync_state == "error" and mapping.last_error and mapping.next_retry_at
    sim.configure(error_rate=0.0)
    run_sync(user, retry_errors=True)
    mapping.refresh_from_db()
    assert mapping.sync_state == "synced"
    assert mapping.last_error == ""
    assert (mapping.attempts, mapping.next_retry_at, mapping.error_permanent) == (0, None, False)
    assert mapping.last_synced_at is not None
    assert mapping.inflight is None


# --- field mapping --------------------------------------------------------------------------


def test_blocked_adds_the_label_and_keeps_labels_a_person_added(user, sim, sim_token, mode):
    task = make_task(user, "Waiting on Bob")
    run_sync(user)
    remote_id = TodoistTaskMap.objects.get(local_task=task).todoist_task_id
    # Someone adds a label in Todoist.
    services.todoist_client(token=sim_token).update_task(remote_id, {"labels": ["errand"]})
    task.status = "blocked"
    task.save()
    run_sync(user)
    assert sim_tasks(sim)[0]["labels"] == ["errand", "blocked"]
    assert sim_tasks(sim)[0]["checked"] is False  # blocked stays open in Todoist
    task.status = "open"
    task.save()
    run_sync(user)
    assert sim_tasks(sim)[0]["labels"] == ["errand"]


def test_blocked_label_name_is_a_setting(user, sim, settings):
    settings.TODOIST_BLOCKED_LABEL = "on-hold"
    make_task(user, "Held", status="blocked")
    run_sync(user)
    assert sim_tasks(sim)[0]["labels"] == ["on-hold"]


def test_blocked_then_done_then_open_removes_the_label(user, sim, mode):
    task = make_task(user, "Cycle", status="blocked")
    run_sync(user)
    task.status = "done"
    task.save()
    run_sync(user)
    assert sim_tasks(sim)[0]["checked"] is True
    task.status = "open"
    task.save()
    run = run_sync(user)
    remote = sim_tasks(sim)[0]
    assert remote["checked"] is False and remote["labels"] == []
    assert run.reopened == 1


def test_closing_an_open_task_costs_no_label_read(user, sim):
    task = make_task(user, "Close me")
    run_sync(user)
    task.status = "done"
    task.save()
    before = sim.stats()["requests_by_kind"]["list"]
    run = run_sync(user)
    assert run.requests == 1
    assert sim.stats()["requests_by_kind"]["list"] == before


def test_unknown_status_is_skipped_with_a_warning_not_a_crash(user, sim):
    make_task(user, "Fine")
    odd = make_task(user, "Odd")
    Task.objects.filter(pk=odd.pk).update(status="someday")
    run = run_sync(user)
    assert (run.state, run.created, run.skipped) == ("succeeded", 1, 1)
    warning = EventLog.objects.get(level="warning", topic="sync.todoist")
    assert warning.data["tasks"] == [{"id": odd.pk, "status": "someday"}]
    assert not TodoistTaskMap.objects.filter(local_task=odd).exists()


def test_archived_and_other_users_tasks_are_not_synced(user, other_user, sim):
    make_task(user, "Archived", archived=True)
    make_task(other_user, "Bob's")
    make_task(user, "Mine")
    run_sync(user)
    assert [t["content"] for t in sim_tasks(sim)] == ["Mine"]


def test_chat_scope_limits_the_run(user, sim):
    make_task(user, "Chat 1", chat_id=1)
    make_task(user, "Chat 2", chat_id=2)
    run_sync(user, chat_id=1)
    assert [t["content"] for t in sim_tasks(sim)] == ["Chat 1"]


# --- exactly once ---------------------------------------------------------------------------


def test_lost_answer_after_create_never_makes_a_second_task(user, sim, mode):
    make_task(user, "Before")
    run_sync(user)  # the account is read and its project made before any answer is lost
    task = make_task(user, "Exactly once")
    sim.configure(lost_answer_rate=1.0)  # Todoist applies the create, the answer is lost
    first = run_sync(user)
    assert first.failed == 1
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert mapping.sync_state == "error" and mapping.todoist_task_id is None
    request_id = mapping.request_id
    assert mapping.inflight["commands"][0]["uuid"] == request_id
    assert len(sim_tasks(sim)) == 2  # it did reach Todoist

    sim.configure(lost_answer_rate=0.0)
    run_sync(user, retry_errors=True)
    mapping.refresh_from_db()
    assert len(sim_tasks(sim)) == 2
    created = [t for t in sim_tasks(sim) if t["content"] == "Exactly once"]
    assert [mapping.todoist_task_id] == [t["id"] for t in created]
    assert mapping.request_id == request_id
    assert sim.stats()["dedupe_sync_uuid"] >= 1


def test_crash_between_todoist_answer_and_our_commit(user, sim, mode, monkeypatch):
    """The worker dies after Todoist created the task and before the mapping is updated."""
    make_task(user, "Crash window")

    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(OutcomePolicy, "settle", die)
    with pytest.raises(SystemExit):
        run_sync(user)
    assert len(sim_tasks(sim)) == 1
    mapping = TodoistTaskMap.objects.get()
    assert mapping.todoist_task_id is None and mapping.inflight
    # The dead worker's lease is still held: let it expire, as it would in time.
    SyncLease.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    monkeypatch.undo()
    run = run_sync(user)
    assert run.state == "succeeded"
    assert len(sim_tasks(sim)) == 1
    mapping.refresh_from_db()
    assert mapping.todoist_task_id == sim_tasks(sim)[0]["id"]
    assert mapping.sync_state == "synced"


def test_create_ok_without_an_id_is_found_by_a_read_not_repeated(user, sim, settings):
    """A re-sent create answered "ok" without its id: one incremental read finds the task."""
    make_task(user, "Before")
    run_sync(user)
    task = make_task(user, "No id")
    sim.configure(lost_answer_rate=1.0, replay_temp_id_mapping=False)
    run_sync(user)
    sim.configure(lost_answer_rate=0.0)
    healed = run_sync(user, retry_errors=True)
    mapping = TodoistTaskMap.objects.get(local_task=task)
    [created] = [t for t in sim_tasks(sim) if t["content"] == "No id"]
    assert (mapping.sync_state, mapping.todoist_task_id) == ("synced", created["id"])
    assert healed.failed == 0
    run_sync(user, retry_errors=True)
    assert len(sim_tasks(sim)) == 2


# --- error policy ---------------------------------------------------------------------------


def test_transient_error_backs_off_and_the_run_goes_on(user, sim, settings):
    settings.TODOIST_USE_BATCH = False
    settings.TODOIST_RETRY_BASE_SECONDS = 100
    make_task(user, "First")
    make_task(user, "Second")
    sim.configure(error_rate=1.0)
    before = timezone.now()
    run = run_sync(user)
    assert (run.state, run.failed) == ("succeeded", 2)  # both tried: the run went on
    for mapping in TodoistTaskMap.objects.all():
        assert mapping.sync_state == "error" and not mapping.error_permanent
        assert mapping.attempts == 1
        assert before <= mapping.next_retry_at <= timezone.now() + datetime.timedelta(seconds=100)
    events = EventLog.objects.filter(level="error")
    assert events.count() == 2
    assert all(e.data["attempts"] == 1 and e.data["next_retry_at"] for e in events)


def test_transient_error_is_not_retried_before_its_time(user, sim, settings):
    settings.TODOIST_RETRY_BASE_SECONDS = 3600
    make_task(user, "Later")
    sim.configure(error_rate=1.0)
    run_sync(user)
    mapping = TodoistTaskMap.objects.get()
    if mapping.next_retry_at <= timezone.now():  # full jitter may draw ~0
        mapping.next_retry_at = timezone.now() + datetime.timedelta(hours=1)
        mapping.save()
    sim.configure(error_rate=0.0)
    before = sim.stats()["requests_total"]
    run = run_sync(user)
    assert run.skipped == 1 and sim.stats()["requests_total"] == before


def test_backoff_grows_and_becomes_permanent_past_max_attempts(user, sim, settings):
    settings.TODOIST_RETRY_MAX_ATTEMPTS = 3
    make_task(user, "Flaky")
    sim.configure(error_rate=1.0)
    for attempt in (1, 2, 3):
        TodoistTaskMap.objects.update(next_retry_at=None)
        run_sync(user)
        mapping = TodoistTaskMap.objects.get()
        assert mapping.attempts == attempt
    assert mapping.error_permanent and mapping.next_retry_at is None
    assert "gave up after 3 attempts" in mapping.last_error


def test_retry_is_scheduled_for_the_earliest_next_retry(user, sim):
    make_task(user, "Retry me")
    sim.configure(error_rate=1.0)
    run_sync(user)
    mapping = TodoistTaskMap.objects.get()
    schedule = Schedule.objects.get(name=f"todoist-sync-user-{user.pk}")
    assert schedule.func == "todoist_sync.tasks.sync_todoist"
    assert schedule.schedule_type == Schedule.ONCE
    assert schedule.next_run == mapping.next_retry_at


def test_transient_failure_heals_when_the_scheduled_job_runs(user, sim):
    make_task(user, "Heals")
    sim.configure(error_rate=1.0)
    run_sync(user)
    sim.configure(error_rate=0.0)
    TodoistTaskMap.objects.update(next_retry_at=timezone.now() - datetime.timedelta(seconds=1))
    from todoist_sync.tasks import sync_todoist

    schedule = Schedule.objects.get(name=f"todoist-sync-user-{user.pk}")
    # Run what the schedule would run (its args are our own repr(), read back as django-q2 does).
    args = ast.literal_eval(schedule.args)
    kwargs = {k: v for k, v in ast.literal_eval(schedule.kwargs).items() if k != "q_options"}
    result = sync_todoist(*args, **kwargs)
    assert result["state"] == "succeeded"
    assert TodoistTaskMap.objects.get().sync_state == "synced"
    assert len(sim_tasks(sim)) == 1


def test_rate_limit_stops_the_run_and_resumes_no_sooner(user, sim, settings, sim_token):
    settings.TODOIST_USE_BATCH = False
    make_task(user, "Before")
    run_sync(user)  # the account read and the project, before the limit
    for i in range(3):
        make_task(user, f"R{i}")
    sim.configure(rate_limit_429_rate=1.0, retry_after_seconds=120)
    run = run_sync(user)
    assert run.state == "deferred"
    assert run.requests == 1  # stopped at the first 429
    assert TodoistTaskMap.objects.filter(sync_state="pending").count() >= 1
    assert not TodoistTaskMap.objects.filter(sync_state="error").exists()
    budget = RateBudget.objects.get(key=account_budget(user))  # the account's, not a share
    assert budget.blocked_until >= timezone.now() + datetime.timedelta(seconds=100)
    schedule = Schedule.objects.get(name=f"todoist-sync-user-{user.pk}")
    assert schedule.next_run >= timezone.now() + datetime.timedelta(seconds=100)

    # Until then, no run sends anything.
    sim.configure(rate_limit_429_rate=0.0)
    before = sim.stats()["requests_total"]
    assert run_sync(user).state == "deferred"
    assert sim.stats()["requests_total"] == before

    RateBudget.objects.update(blocked_until=None)
    run = run_sync(user)
    assert run.state == "succeeded"
    assert len(sim_tasks(sim)) == 4


def test_validation_error_is_permanent_with_a_reason_naming_the_field(user, sim, mode):
    # Local validation catches what we know; Todoist's own refusals take the same path.
    task = make_task(user, "ok")
    Task.objects.filter(pk=task.pk).update(title="   ")  # the API refuses it; the ORM does not
    run = run_sync(user)
    assert run.failed == 1
    mapping = TodoistTaskMap.objects.get()
    assert mapping.error_permanent and mapping.sync_state == "error"
    assert mapping.last_error.startswith("validation: content:")
    assert sim.stats()["requests_total"] == 0

    # Not retried while the task stays the same...
    assert run_sync(user).skipped == 1
    # ...but tried again once it changes.
    task.refresh_from_db()
    task.title = "Short now"
    task.save()
    run = run_sync(user)
    assert run.created == 1
    assert TodoistTaskMap.objects.get().sync_state == "synced"


def test_todoist_validation_error_names_the_argument(user, sim, mode, monkeypatch):
    """A refusal only Todoist knows about (we pretend our check passed)."""
    make_task(user, "Too long for Todoist")
    real = planning.task_snapshot

    def lenient(task, **kwargs):
        snapshot = real(task, **kwargs)
        snapshot["content"] = "x" * 600
        return snapshot

    monkeypatch.setattr(planning, "task_snapshot", lenient)
    run = run_sync(user)
    mapping = TodoistTaskMap.objects.get()
    assert run.failed == 1 and mapping.error_permanent
    assert mapping.last_error.startswith("validation: content")
    assert not sim_tasks(sim)
    assert run_sync(user).skipped == 1


def test_resync_retries_a_permanent_error(user, sim, settings, django_capture_on_commit_callbacks):
    make_task(user, "Stuck")
    sim.configure(error_rate=1.0)
    settings.TODOIST_RETRY_MAX_ATTEMPTS = 1
    run_sync(user)
    mapping = TodoistTaskMap.objects.get()
    assert mapping.error_permanent
    sim.configure(error_rate=0.0)
    assert run_sync(user).skipped == 1
    # The job is queued after commit and runs inline in tests.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.mappings_resync(mappings=[mapping]) == 1
    mapping.refresh_from_db()
    assert mapping.sync_state == "synced"
    assert len(sim_tasks(sim)) == 1


def test_auth_error_stops_the_run_with_one_clear_error(user, sim, settings, mode):
    for i in range(3):
        make_task(user, f"A{i}")
    settings.TODOIST_API_TOKEN = "wrong-token-0000"
    run = run_sync(user)
    assert run.state == "failed"
    assert run.error_summary == "Todoist rejected the token"
    assert run.requests == 1  # no retry storm
    errors = EventLog.objects.filter(level="error")
    assert [e.message for e in errors] == ["Todoist rejected the token."]
    assert not TodoistTaskMap.objects.filter(sync_state="error").exists()
    assert not Schedule.objects.filter(name=f"todoist-sync-user-{user.pk}").exists()


def test_deleted_in_todoist_is_a_permanent_error(user, sim, sim_token, mode):
    edit_after_deletion_in_todoist(user, sim, sim_token, "Gone")
    mapping = TodoistTaskMap.objects.get()
    assert mapping.error_permanent and "deleted in Todoist" in mapping.last_error
    assert len(sim_tasks(sim)) == 0


def test_deleted_in_todoist_is_recreated_when_the_setting_says_so(
    user, sim, sim_token, settings, mode
):
    settings.TODOIST_RECREATE_DELETED = True
    old_id = edit_after_deletion_in_todoist(user, sim, sim_token, "Phoenix")
    mapping = TodoistTaskMap.objects.get()
    [remote] = sim_tasks(sim)
    assert remote["content"] == "Phoenix, edited" and remote["id"] != old_id
    assert mapping.todoist_task_id == remote["id"] and mapping.sync_state == "synced"


def test_no_token_fails_the_run_clearly(user, sim, settings):
    settings.TODOIST_API_TOKEN = ""
    make_task(user, "x")
    run = run_sync(user)
    assert run.state == "failed" and "No Todoist token" in run.error_summary
    with pytest.raises(services.NoTodoistToken):
        services.sync_enqueue(user=user)


# --- lease ----------------------------------------------------------------------------------


def test_a_run_that_finds_the_lease_held_defers_at_once_and_the_holder_queues_another(
    user, sim, queued_jobs
):
    make_task(user, "Contended")
    assert services.lease_acquire(user_id=user.pk, holder="holder-job")
    slept: list[float] = []
    run = run_sync(user, sleep=slept.append)
    assert run.state == "deferred" and run.requests == 0
    assert slept == []  # it held no worker waiting for the lease
    assert sim.stats()["requests_total"] == 0
    assert not SyncRun.objects.filter(state="queued").exists()

    # The holder's run ends: it queues the run the deferred one asked for.
    holder = run_sync(user, job_id="holder-job")
    assert holder.state == "succeeded"
    [follow_up] = SyncRun.objects.filter(state="queued")
    assert (follow_up.trigger, follow_up.chat_id) == ("follow-up", None)


def test_a_run_that_finds_the_lease_freed_meanwhile_runs_itself(user, sim, monkeypatch):
    """The holder let go between our first try and our request for a follow-up: nobody else
    would queue a run, so this one goes on."""
    make_task(user, "Raced")
    assert services.lease_acquire(user_id=user.pk, holder="holder-job")
    real_ask = lease.lease_ask_follow_up

    def ask_then_holder_finishes(**kwargs):
        real_ask(**kwargs)
        services.lease_release(user_id=user.pk, holder="holder-job")  # sees no request yet

    monkeypatch.setattr(engine, "lease_ask_follow_up", ask_then_holder_finishes)
    run = run_sync(user)
    assert (run.state, run.created) == ("succeeded", 1)


def test_an_expired_lease_is_taken_over(user, sim):
    make_task(user, "Dead worker")
    assert services.lease_acquire(user_id=user.pk, holder="dead", seconds=0.001)
    SyncLease.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    run = run_sync(user)
    assert run.state == "succeeded" and run.lease_holder == run.job_id
    assert SyncLease.objects.get().holder == ""  # released at the end


# --- rate budget ----------------------------------------------------------------------------


def test_rate_budget_paces_instead_of_hitting_429(user, sim, settings):
    settings.TODOIST_USE_BATCH = False
    settings.TODOIST_RATE_LIMIT_REQUESTS = 2
    settings.TODOIST_RATE_LIMIT_WINDOW = 60
    settings.TODOIST_RATE_LIMIT_MAX_WAIT = 5
    for i in range(3):
        make_task(user, f"B{i}")
    run = run_sync(user)
    # Two requests fit the window; the third would wait ~60 s (> max wait): deferred.
    assert run.state == "deferred" and run.requests == 2
    assert sim.stats()["responses_429"] == 0


def test_rate_budget_sleeps_short_waits(user, sim, settings, clock):
    settings.TODOIST_USE_BATCH = False
    settings.TODOIST_RATE_LIMIT_REQUESTS = 1
    settings.TODOIST_RATE_LIMIT_WINDOW = 0.2
    settings.TODOIST_RATE_LIMIT_MAX_WAIT = 5
    for i in range(3):
        make_task(user, f"S{i}")

    run = run_sync(user, sleep=clock.sleep)
    assert run.state == "succeeded" and run.created == 3
    # The clock stands still but for the waits: before each request but the first, a whole
    # window plus the budget's safety margin.
    span = pytest.approx(0.2 + BUDGET_MARGIN_SECONDS)
    assert run.requests == 5 and clock.slept == [span] * 4


def test_rate_budget_is_per_token_and_holds_no_token(user, sim, sim_token):
    make_task(user, "x")
    run_sync(user)
    budget = RateBudget.objects.get(key=account_budget(user))  # the account's, not a share
    assert sim_token not in budget.key and len(budget.key) == 64


# --- cost -----------------------------------------------------------------------------------


def test_a_run_over_200_unchanged_tasks_makes_no_query_per_task(
    user, sim, django_assert_max_num_queries
):
    Task.objects.bulk_create(Task(user=user, title=f"Q{i}") for i in range(200))
    run_sync(user)
    with django_assert_max_num_queries(20):
        run = run_sync(user)
    assert run.unchanged == 200 and run.requests == 0


def test_batches_hold_at_most_the_command_limit(user, sim, settings):
    settings.TODOIST_BATCH_SIZE = 100
    Task.objects.bulk_create(Task(user=user, title=f"N{i}") for i in range(250))
    run = run_sync(user)
    assert run.created == 250
    # The account's first read, then ceil((250 + the project_add) / 100) batches.
    assert run.requests == 1 + 3
    assert sim.stats()["requests_by_kind"]["sync"] == 4


# --- secrets --------------------------------------------------------------------------------


def test_the_token_never_appears_in_logs_rows_or_errors(user, sim, sim_token, settings, caplog):
    caplog.set_level(logging.DEBUG)
    run_through_every_failure(user, sim, sim_token, settings)

    assert EventLog.objects.filter(level="error").exists()
    written = json.dumps(
        [
            list(EventLog.objects.values()),
            list(SyncRun.objects.values()),
            list(TodoistTaskMap.objects.values()),
            list(RateBudget.objects.values("key")),
        ],
        default=str,
    )
    assert sim_token not in written
    logged = "\n".join(
        record.getMessage() + repr(record.args) + str(record.exc_info) for record in caplog.records
    )
    assert caplog.records  # the runs did log
    assert sim_token not in logged


# --- archived tasks and stale runs ----------------------------------------------------------


def test_archiving_a_synced_task_closes_it_in_todoist_and_unarchiving_reopens(user, sim):
    task = make_task(user, "Deleted in the bot")
    run_sync(user)
    task.archived = True
    task.save()
    assert run_sync(user).closed == 1
    assert sim_tasks(sim)[0]["checked"] is True
    assert run_sync(user).requests == 0
    task.archived = False
    task.save()
    assert run_sync(user).reopened == 1
    assert sim_tasks(sim)[0]["checked"] is False


def test_archived_tasks_are_left_alone_when_the_setting_is_off(user, sim, settings):
    settings.TODOIST_CLOSE_ARCHIVED = False
    task = make_task(user, "Stays open")
    run_sync(user)
    task.archived = True
    task.save()
    assert run_sync(user).requests == 0
    assert sim_tasks(sim)[0]["checked"] is False


def test_a_run_left_running_by_a_dead_worker_is_marked_failed(user, sim):
    dead = SyncRun.objects.create(job_id="dead-worker", user=user, state="running")
    make_task(user, "x")
    run = run_sync(user)
    dead.refresh_from_db()
    assert run.state == "succeeded"
    assert dead.state == "failed" and "worker stopped" in dead.error_summary


def test_a_trigger_does_not_join_a_queued_run_that_was_lost(user, sim, queued_jobs):
    first = services.sync_enqueue(user=user)
    assert services.sync_enqueue(user=user).pk == first.pk  # joined while fresh
    SyncRun.objects.filter(pk=first.pk).update(
        queued_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert services.sync_enqueue(user=user).pk != first.pk


def test_a_label_already_as_wanted_marks_the_task_synced_without_a_write_request(
    user, sim, sim_token
):
    task = make_task(user, "Labelled by hand")
    run_sync(user)
    remote_id = TodoistTaskMap.objects.get().todoist_task_id
    services.todoist_client(token=sim_token).update_task(remote_id, {"labels": ["blocked"]})
    task.status = "blocked"
    task.save()
    run = run_sync(user)
    assert run.requests == 1  # the label read; nothing to write
    mapping = TodoistTaskMap.objects.get()
    assert mapping.sync_state == "synced" and mapping.pushed["blocked"] is True
    assert run_sync(user).requests == 0


def test_a_failed_label_read_fails_the_task_for_a_retry_not_silently(user, sim):
    task = make_task(user, "Label me")
    run_sync(user)
    task.status = "blocked"
    task.save()
    sim.configure(error_rate=1.0)
    run = run_sync(user)
    mapping = TodoistTaskMap.objects.get()
    assert run.failed == 1
    assert mapping.sync_state == "error" and mapping.next_retry_at and not mapping.error_permanent
    assert mapping.inflight is None
    assert EventLog.objects.filter(level="error", data__local_task_id=task.pk).exists()
    assert Schedule.objects.filter(name=f"todoist-sync-user-{user.pk}").exists()
    sim.configure(error_rate=0.0)
    run_sync(user, retry_errors=True)
    assert sim_tasks(sim)[0]["labels"] == ["blocked"]
    assert TodoistTaskMap.objects.get().sync_state == "synced"


def test_a_run_whose_job_was_lost_is_marked_failed_by_the_next_run(user, sim):
    lost = SyncRun.objects.create(job_id="lost-job", user=user)
    SyncRun.objects.filter(pk=lost.pk).update(
        queued_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    make_task(user, "x")
    assert run_sync(user).state == "succeeded"
    lost.refresh_from_db()
    assert lost.state == "failed" and "never reached a worker" in lost.error_summary


def test_a_redelivered_job_counts_its_run_afresh(user, sim):
    make_task(user, "Once")
    first = run_sync(user, job_id="redelivered")
    assert (first.created, first.requests) == (1, 2)  # the account's first read, one batch
    again = run_sync(user, job_id="redelivered")  # the queue delivers the same job again
    assert again.pk == first.pk
    assert (again.created, again.unchanged, again.requests) == (0, 1, 0)
