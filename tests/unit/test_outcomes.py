"""The error policy of one task (`OutcomePolicy`): what each answer of Todoist does to a mapping.

Each row is one branch of `OutcomePolicy.settle` / `settle_error` (README "Error policy"). A row
lists only what changes: everything it does not name must be as it was before settling.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.builders import PROJECT, State, command, local_task, new_mapping, pushed_as
from tests.unit.builders import synced_mapping as known
from todoist_sync.exceptions import (
    TodoistAuthError,
    TodoistConfigurationError,
    TodoistNotFoundError,
    TodoistPayloadTooLargeError,
    TodoistRateLimitedError,
    TodoistTransientError,
    TodoistValidationError,
)
from todoist_sync.payloads import fingerprint
from todoist_sync.services.outcomes import DELETED_REASON, OutcomePolicy
from todoist_sync.services.persistence import PushItem
from todoist_sync.services.planning import raw_fingerprint
from todoist_sync.services.projects import full_reason
from todoist_sync.services.round import RoundState

pytestmark = pytest.mark.django_db  # the project directory's rows

MAX_ATTEMPTS = 3
OPEN = local_task()
RENAMED = local_task(title="Buy oat milk")
DONE = local_task(raw_status="done")

ADD = command("item_add", "req-1", content="Buy milk")
CLOSE_NEW = command("item_close", "c-1", id="req-1")  # names the create's temp_id
UPDATE = command("item_update", "u-1", id="td-1", content="Buy oat milk")
CLOSE = command("item_close", "c-2", id="td-1")
HELD = command("item_update", "h-1", id="req-1", priority=4)


# The items a round pushes (a task, its mapping, its commands, what they achieve).
def update_item(**mapping):
    return PushItem(RENAMED, known(OPEN, **mapping), [UPDATE], pushed_as(RENAMED))


def close_item(**mapping):
    return PushItem(DONE, known(OPEN, **mapping), [CLOSE], pushed_as(DONE))


def create_item(**mapping):
    return PushItem(OPEN, new_mapping(OPEN, **mapping), [ADD], pushed_as(OPEN))


def create_close_item(**mapping):
    return PushItem(DONE, new_mapping(DONE, **mapping), [ADD, CLOSE_NEW], pushed_as(DONE))


def create_held_item(**mapping):
    return PushItem(OPEN, new_mapping(OPEN, **mapping), [ADD], pushed_as(OPEN), held=[HELD])


def transient():
    return TodoistTransientError("boom", status=503)


def refused(argument=None):
    return TodoistValidationError("Invalid argument value", argument=argument, status=400)


def not_found(tag=None):
    return TodoistNotFoundError("Not found", status=404, error_tag=tag)


def full():
    return TodoistValidationError("Max items", status=403, error_tag="MAX_ITEMS_LIMIT_REACHED")


def observe(settler: OutcomePolicy, item: PushItem) -> dict[str, Any]:
    """Everything the policy may change, in a form a row can state."""
    m = item.mapping
    inflight = m.inflight
    sent = None if inflight is None else [(c["uuid"], c["args"]) for c in inflight["commands"]]
    tally = ("created", "updated", "closed", "reopened", "failed")
    return {
        "state": m.sync_state,
        "todoist_id": m.todoist_task_id,
        "request_id": m.request_id,
        "inflight": sent,
        "add_confirmed": bool(inflight and inflight.get("add_confirmed")),
        "pushed": m.pushed,
        "fingerprint_ok": m.pushed_fingerprint == (fingerprint(m.pushed) if m.pushed else ""),
        "attempts": m.attempts,
        "permanent": m.error_permanent,
        "last_error": m.last_error,
        "failed_fingerprint": m.failed_fingerprint,
        "retry_in": (m.next_retry_at - m.updated_at).total_seconds() if m.next_retry_at else None,
        "waiting": m.waiting_reason,
        "project": m.project.name if m.project_id else None,
        "synced_at": m.last_synced_at is not None,
        "followup": item.task.id in settler.state.followups,
        "unconfirmed": [i.mapping for i in settler.state.unconfirmed] == [m],
        "unverified": [i.mapping for i in settler.state.unverified] == [m],
        "run": {c: getattr(settler.run, c) for c in tally},
        "events": [e.level.value for e in settler.events.pending],
    }


@pytest.fixture
def settler(run, events, directory, settings, monkeypatch) -> OutcomePolicy:
    settings.TODOIST_RETRY_MAX_ATTEMPTS = MAX_ATTEMPTS
    settings.TODOIST_RETRY_BASE_SECONDS = 30
    # The jitter at its top: the wait is then the backoff's ceiling, which a row can state.
    monkeypatch.setattr("todoist_sync.services.outcomes.random.uniform", lambda low, high: high)
    return OutcomePolicy(run=run, events=events, projects=directory, state=RoundState())


def counts(**changed):
    return {"created": 0, "updated": 0, "closed": 0, "reopened": 0, "failed": 0, **changed}


SYNCED = {"state": State.SYNCED, "synced_at": True, "project": PROJECT, "inflight": None}
OPEN_PART = {**pushed_as(DONE), "done": False}  # what a create followed by a close made


@pytest.mark.parametrize(
    ("make_item", "statuses", "temp_ids", "changes"),
    [
        # -- everything confirmed
        pytest.param(update_item, ["ok"], {}, {
            **SYNCED, "pushed": pushed_as(RENAMED), "run": counts(updated=1),
        }, id="update-ok-synced"),
        pytest.param(create_item, ["ok"], {"req-1": "td-9"}, {
            **SYNCED, "todoist_id": "td-9", "pushed": pushed_as(OPEN), "run": counts(created=1),
        }, id="create-ok-synced"),
        pytest.param(create_close_item, ["ok", "ok"], {"req-1": "td-9"}, {
            **SYNCED, "todoist_id": "td-9", "pushed": pushed_as(DONE),
            "run": counts(created=1, closed=1),
        }, id="create-and-close-ok-synced"),
        # An id already known (a read found the task): the add's missing mapping is harmless.
        pytest.param(lambda: create_item(todoist_task_id="td-5"), ["ok"], {}, {
            **SYNCED, "pushed": pushed_as(OPEN), "run": counts(created=1),
        }, id="add-ok-id-known-synced"),
        # -- a create Todoist ran without telling its id: never made again; a read finds it
        pytest.param(create_item, ["ok"], {}, {
            "state": State.PENDING, "inflight": [("req-1", ADD["args"])], "add_confirmed": True,
            "unconfirmed": True, "run": counts(created=1),
        }, id="add-ok-without-id-unconfirmed"),
        pytest.param(create_close_item, ["ok", not_found()], {}, {
            "state": State.PENDING, "add_confirmed": True, "unconfirmed": True,
            "inflight": [("req-1", ADD["args"]), ("c-1", CLOSE_NEW["args"])],
            "run": counts(created=1),
        }, id="add-ok-without-id-keeps-the-rest"),
        pytest.param(create_held_item, ["ok"], {}, {
            "state": State.PENDING, "add_confirmed": True, "unconfirmed": True,
            "inflight": [("req-1", ADD["args"]), ("h-1", HELD["args"])],
            "run": counts(created=1),
        }, id="add-ok-without-id-keeps-held"),
        pytest.param(lambda: create_item(sync_state=State.ERROR), ["ok"], {}, {
            "inflight": [("req-1", ADD["args"])], "add_confirmed": True, "unconfirmed": True,
            "run": counts(created=1),
        }, id="add-ok-without-id-error-stays-error"),
        # -- the create confirmed with its id, commands held back until then: next round
        pytest.param(create_held_item, ["ok"], {"req-1": "td-9"}, {
            "state": State.PENDING, "todoist_id": "td-9", "followup": True,
            "inflight": [("h-1", {"id": "td-9", "priority": 4})],
            "pushed": pushed_as(OPEN), "run": counts(created=1),
        }, id="held-and-ok-add-pending"),
        # -- transient: retried with backoff, then permanent
        pytest.param(update_item, [transient()], {}, {
            "state": State.ERROR, "attempts": 1, "last_error": "temporary: boom", "retry_in": 30.0,
            "inflight": [("u-1", UPDATE["args"])], "run": counts(failed=1), "events": ["error"],
        }, id="transient-retried"),
        pytest.param(lambda: update_item(attempts=1), [transient()], {}, {
            "state": State.ERROR, "attempts": 2, "last_error": "temporary: boom", "retry_in": 60.0,
            "inflight": [("u-1", UPDATE["args"])], "run": counts(failed=1), "events": ["error"],
        }, id="transient-backoff-doubles"),
        pytest.param(lambda: update_item(attempts=MAX_ATTEMPTS - 1), [transient()], {}, {
            "state": State.ERROR, "attempts": MAX_ATTEMPTS, "permanent": True,
            "last_error": f"gave up after {MAX_ATTEMPTS} attempts: boom",
            "failed_fingerprint": raw_fingerprint(RENAMED),
            # Kept: they are resent as they were if the task changes (a create never twice).
            "inflight": [("u-1", UPDATE["args"])], "run": counts(failed=1), "events": ["error"],
        }, id="transient-permanent-after-max-attempts"),
        # -- not the task's fault: the run stops, the task keeps its commands
        pytest.param(update_item, [TodoistRateLimitedError("429", retry_after=5)], {}, {
            "state": State.PENDING, "inflight": [("u-1", UPDATE["args"])],
        }, id="rate-limited-stops-run"),
        pytest.param(update_item, [TodoistAuthError("401", status=401)], {}, {
            "state": State.PENDING, "inflight": [("u-1", UPDATE["args"])],
        }, id="auth-stops-run"),
        pytest.param(update_item, [TodoistConfigurationError("410", status=410)], {}, {
            "state": State.PENDING, "inflight": [("u-1", UPDATE["args"])],
        }, id="configuration-stops-run"),
        pytest.param(lambda: update_item(sync_state=State.ERROR), [TodoistAuthError("401")], {}, {
            "inflight": [("u-1", UPDATE["args"])],
        }, id="stops-run-error-stays-error"),
        # -- refused as it is: permanent until the task changes
        pytest.param(update_item, [refused("content")], {}, {
            "state": State.ERROR, "permanent": True, "inflight": None,
            "last_error": "validation: content: Invalid argument value",
            "failed_fingerprint": raw_fingerprint(RENAMED), "run": counts(failed=1),
            "events": ["error"],
        }, id="validation-permanent-with-argument"),
        pytest.param(update_item, [refused()], {}, {
            "state": State.ERROR, "permanent": True, "inflight": None,
            "last_error": "validation: Invalid argument value",
            "failed_fingerprint": raw_fingerprint(RENAMED), "run": counts(failed=1),
            "events": ["error"],
        }, id="validation-permanent-without-argument"),
        pytest.param(update_item, [TodoistPayloadTooLargeError("too large", status=413)], {}, {
            "state": State.ERROR, "permanent": True, "inflight": None,
            "last_error": "validation: too large",
            "failed_fingerprint": raw_fingerprint(RENAMED), "run": counts(failed=1),
            "events": ["error"],
        }, id="too-large-alone-permanent"),
        # The create went through, the close was refused: never create again.
        pytest.param(create_close_item, ["ok", refused()], {"req-1": "td-9"}, {
            "state": State.ERROR, "permanent": True, "todoist_id": "td-9", "inflight": None,
            "pushed": OPEN_PART, "last_error": "validation: Invalid argument value",
            "failed_fingerprint": raw_fingerprint(DONE), "run": counts(created=1, failed=1),
            "events": ["error"],
        }, id="ok-add-then-refused-close-pushed-open-part"),
        # -- "not found": a read decides, never the answer alone
        pytest.param(update_item, [not_found()], {}, {
            "state": State.PENDING, "inflight": [("u-1", UPDATE["args"])], "unverified": True,
        }, id="not-found-known-id-unverified"),
        pytest.param(close_item, ["ok"], {}, {
            **SYNCED, "pushed": pushed_as(DONE), "run": counts(closed=1),
        }, id="close-ok-synced"),
        # Without an id nothing can have been deleted: Todoist refused the command.
        pytest.param(create_item, [not_found()], {}, {
            "state": State.ERROR, "permanent": True, "inflight": None,
            "last_error": "validation: Not found", "failed_fingerprint": raw_fingerprint(OPEN),
            "run": counts(failed=1), "events": ["error"],
        }, id="not-found-without-id-permanent"),
        # -- the project: the task waits, pending, with no error and no attempt
        pytest.param(create_item, [full()], {}, {
            "state": State.PENDING, "waiting": full_reason(PROJECT), "project": PROJECT,
            "request_id": "fresh",
        }, id="project-full-waits"),
        pytest.param(lambda: create_item(sync_state=State.ERROR), [full()], {}, {
            "waiting": full_reason(PROJECT), "project": PROJECT, "request_id": "fresh",
        }, id="project-full-error-stays-error"),
        # A task already in Todoist keeps its id and request id while it waits to move.
        pytest.param(update_item, [full()], {}, {
            "state": State.PENDING, "waiting": full_reason(PROJECT), "project": PROJECT,
            "inflight": None,
        }, id="project-full-known-task-waits"),
        pytest.param(create_item, [not_found("PROJECT_NOT_FOUND")], {}, {
            "state": State.PENDING, "waiting": f"Todoist project {PROJECT!r} is being created",
            "project": PROJECT, "request_id": "fresh", "followup": True,
        }, id="project-gone-waits-and-follows-up"),
    ],
)  # fmt: skip
def test_settle(settler, make_item, statuses, temp_ids, changes):
    item = make_item()
    before = observe(settler, item)
    settler.settle(item, statuses, temp_ids)
    after = observe(settler, item)
    if changes.get("request_id") == "fresh":
        # A create that did not run goes again under a new uuid (Todoist would not run the old).
        assert after["request_id"] not in ("", before["request_id"])
        changes = {**changes, "request_id": after["request_id"]}
    assert after == {**before, **changes}


def test_a_full_project_has_no_room_left(settler, directory):
    settler.settle(create_item(), [full()], {})
    # Stored, so the status shows it and later runs only probe it.
    assert directory.project(PROJECT).full_since is not None


def test_a_refused_project_keeps_its_tasks_waiting_with_its_reason(settler, directory):
    project = directory.project(PROJECT)
    project.refused_reason = "Todoist refused to create project 'Planner': Invalid name"
    item = create_item()
    settler.settle(item, [refused("name")], {})
    assert (item.mapping.sync_state, item.mapping.waiting_reason) == (
        State.PENDING,
        project.refused_reason,
    )
    assert settler.run.failed == 0


def test_a_create_confirmed_before_its_project_failed_is_not_a_wait(settler):
    # ok_add: the task exists; what followed it was refused, as for any other refusal.
    item = create_close_item()
    settler.settle(item, ["ok", full()], {"req-1": "td-9"})
    assert (item.mapping.sync_state, item.mapping.waiting_reason) == (State.ERROR, "")
    assert item.mapping.pushed == OPEN_PART


def test_a_task_in_a_project_deleted_in_todoist_is_created_again(settler, directory):
    project = directory.project(PROJECT)
    directory.forget(project)  # what the batch's read of the projects found
    item = update_item(project=project, attempts=2)
    settler.settle(item, [not_found()], {})
    mapping = item.mapping
    assert (mapping.todoist_task_id, mapping.pushed, mapping.inflight) == (None, None, None)
    assert (mapping.sync_state, mapping.attempts, mapping.last_error) == (State.PENDING, 0, "")
    assert mapping.request_id != "req-1"
    assert settler.state.followups == {item.task.id}
    assert settler.state.unverified == [] and settler.run.failed == 0


def test_a_close_leaves_room_in_a_full_project(settler, directory):
    directory.mark_full(PROJECT)
    project = directory.project(PROJECT)
    settler.settle(close_item(project=project), ["ok"], {})
    assert directory.take_room(PROJECT) is None
    assert project.full_since is None
    # A task created and closed at once never took a place: it makes none.
    directory.mark_full(PROJECT)
    settler.settle(create_close_item(), ["ok", "ok"], {"req-1": "td-9"})
    assert project.full_since is not None


@pytest.mark.parametrize(
    ("recreate", "state", "permanent", "last_error", "level"),
    [
        pytest.param(False, State.ERROR, True, DELETED_REASON, "error", id="deleted-permanent"),
        pytest.param(True, State.PENDING, False, "", "warning", id="deleted-recreated"),
    ],
)
def test_a_task_a_read_shows_deleted(
    settler, settings, recreate, state, permanent, last_error, level
):
    settings.TODOIST_RECREATE_DELETED = recreate
    item = update_item(inflight={"commands": [UPDATE], "achieved": {}})
    settler.gone_after_create(item)
    m = item.mapping
    assert (m.sync_state, m.error_permanent, m.last_error, m.inflight) == (
        state,
        permanent,
        last_error,
        None,
    )
    assert (m.todoist_task_id is None) == recreate
    assert [e.level.value for e in settler.events.pending] == [level]


@pytest.mark.parametrize(
    ("attempts", "ceiling"),
    [
        pytest.param(1, 30.0, id="first"),
        pytest.param(2, 60.0, id="second"),
        pytest.param(5, 480.0, id="fifth"),
        pytest.param(8, 3600.0, id="capped"),  # 30 * 2**7 = 3840 > the 3600 s cap
    ],
)
def test_backoff_is_full_jitter_up_to_a_capped_ceiling(settings, monkeypatch, attempts, ceiling):
    settings.TODOIST_RETRY_BASE_SECONDS, settings.TODOIST_RETRY_CAP_SECONDS = 30, 3600
    drawn = []
    monkeypatch.setattr(
        "todoist_sync.services.outcomes.random.uniform",
        lambda low, high: drawn.append((low, high)) or high / 2,
    )
    assert OutcomePolicy.backoff_seconds(attempts) == ceiling / 2
    assert drawn == [(0, ceiling)]
