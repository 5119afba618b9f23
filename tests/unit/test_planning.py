"""What a run does with each task (`decide`), and the `/sync` commands of a plan
(`commands_for`, `with_real_ids`): built from in-memory tasks and unsaved mappings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.builders import (
    PROJECT,
    State,
    command,
    local_task,
    new_mapping,
    pushed_as,
    synced_mapping,
)
from todoist_sync.models import TodoistTaskMap
from todoist_sync.payloads import TaskPlan
from todoist_sync.services.planning import (
    Action,
    SkipReason,
    commands_for,
    decide,
    raw_fingerprint,
    with_real_ids,
)
from todoist_sync.task_model import LocalTask

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
RENAMED = local_task(title="Buy oat milk")  # the task, changed since it was pushed as OPEN
OPEN = local_task()
MappingOf = Callable[[LocalTask], TodoistTaskMap | None]


def none(task):
    return None


def synced(task):
    return synced_mapping(OPEN)  # pushed as the task was before any change


def in_error(*, permanent: bool, failed: LocalTask | None = None, retry_in: float | None = None):
    """A mapping pushed as OPEN whose last attempt failed (for the task as `failed` was)."""

    def build(task):
        return synced_mapping(
            OPEN,
            sync_state=State.ERROR,
            error_permanent=permanent,
            last_error="validation: content: refused",
            failed_fingerprint=raw_fingerprint(failed) if failed else "",
            next_retry_at=NOW + timedelta(seconds=retry_in) if retry_in is not None else None,
        )

    return build


def inflight(task):
    return synced_mapping(
        OPEN, inflight={"commands": [command("item_update", "u-1", id="td-1")], "achieved": {}}
    )


@pytest.mark.parametrize(
    ("task", "mapping_of", "retry_errors", "action", "skip"),
    [
        pytest.param(local_task(raw_status="someday"), none, False, Action.SKIP,
                     SkipReason.UNKNOWN_STATUS, id="unknown-status"),
        pytest.param(RENAMED, in_error(permanent=True, failed=RENAMED), False, Action.SKIP,
                     SkipReason.PERMANENT_ERROR, id="permanent-error-same-fingerprint"),
        # Changed since it failed: tried again.
        pytest.param(RENAMED, in_error(permanent=True, failed=OPEN), False, Action.UPDATE, None,
                     id="permanent-error-changed-fingerprint"),
        pytest.param(RENAMED, in_error(permanent=False, retry_in=60), False, Action.SKIP,
                     SkipReason.RETRY_LATER, id="retry-later"),
        pytest.param(RENAMED, in_error(permanent=False, retry_in=-60), False, Action.UPDATE, None,
                     id="retry-due"),
        pytest.param(RENAMED, in_error(permanent=True, failed=RENAMED), True, Action.UPDATE, None,
                     id="retry-errors-permanent"),
        pytest.param(RENAMED, in_error(permanent=False, retry_in=60), True, Action.UPDATE, None,
                     id="retry-errors-retry-later"),
        pytest.param(RENAMED, inflight, False, Action.RESEND, None, id="inflight-resend"),
        # Stored commands go as they were, even if the task became invalid since.
        pytest.param(local_task(title=""), inflight, False, Action.RESEND, None,
                     id="inflight-before-payload"),
        pytest.param(local_task(title="x" * 501), none, False, Action.INVALID, None,
                     id="invalid-title-too-long"),
        pytest.param(local_task(title="x" * 501), synced, False, Action.INVALID, None,
                     id="invalid-after-sync"),
        pytest.param(local_task(priority=None, raw_priority=9), none, False, Action.INVALID, None,
                     id="invalid-priority"),
        pytest.param(OPEN, synced, False, Action.UNCHANGED, None, id="unchanged"),
        # Done and pushed with the label: the label is don't-care once done.
        pytest.param(local_task(raw_status="done"),
                     lambda t: synced_mapping(t, pushed={**pushed_as(t), "blocked": True}),
                     False, Action.UNCHANGED, None, id="unchanged-done-label-dont-care"),
        pytest.param(OPEN, none, False, Action.CREATE, None, id="create-no-mapping"),
        pytest.param(OPEN, new_mapping, False, Action.CREATE, None, id="create-unconfirmed"),
        # Forgotten by a recreate: an id without a pushed snapshot is not known.
        pytest.param(OPEN, lambda t: synced_mapping(t, pushed=None), False, Action.CREATE, None,
                     id="create-pushed-forgotten"),
        pytest.param(local_task(raw_status="done"), synced, False, Action.CLOSE, None, id="close"),
        pytest.param(local_task(archived=True), synced, False, Action.CLOSE, None,
                     id="close-archived"),
        pytest.param(OPEN, lambda t: synced_mapping(local_task(raw_status="done")), False,
                     Action.REOPEN, None, id="reopen"),
        pytest.param(RENAMED, synced, False, Action.UPDATE, None, id="update"),
        pytest.param(local_task(raw_status="blocked"), synced, False, Action.UPDATE, None,
                     id="update-label"),
        pytest.param(OPEN, lambda t: synced_mapping(t, in_project="Work"), False, Action.UPDATE,
                     None, id="update-move"),
    ],
)  # fmt: skip
def test_decide(task, mapping_of: MappingOf, retry_errors, action, skip):
    mapping = mapping_of(task)
    decision = decide(
        task=task, mapping=mapping, now=NOW, project=PROJECT, retry_errors=retry_errors
    )
    assert (decision.action, decision.skip) == (action, skip)
    assert decision.mapping is mapping
    # A plan exactly when something is sent from the task as it is now.
    planned = action in (Action.CREATE, Action.UPDATE, Action.CLOSE, Action.REOPEN)
    assert (decision.plan is not None) == planned
    assert (decision.error is not None) == (action == Action.INVALID)


@pytest.mark.parametrize(
    ("task", "field"),
    [
        pytest.param(local_task(title="x" * 501), "content", id="title"),
        pytest.param(local_task(priority=None, raw_priority=9), "priority", id="priority"),
    ],
)
def test_an_invalid_task_names_its_field(task, field):
    decision = decide(task=task, mapping=None, now=NOW, project=PROJECT)
    assert decision.error.field == field
    assert decision.reason == str(decision.error)


@pytest.mark.parametrize(
    ("task", "mapping_of", "reason"),
    [
        pytest.param(RENAMED, synced, "update content", id="update"),
        pytest.param(OPEN, lambda t: synced_mapping(t, in_project="Work"), "move to 'Planner'",
                     id="move"),
        pytest.param(RENAMED, inflight, "unconfirmed commands re-sent as they were: item_update",
                     id="resend"),
        pytest.param(RENAMED, in_error(permanent=True, failed=RENAMED),
                     "permanent error: validation: content: refused", id="permanent"),
        pytest.param(local_task(raw_status=["x"]), none, "unknown status ['x']",
                     id="unhashable-status"),
    ],
)  # fmt: skip
def test_a_decision_says_why(task, mapping_of, reason):
    decision = decide(task=task, mapping=mapping_of(task), now=NOW, project=PROJECT)
    assert decision.reason == reason


# -- commands_for ---------------------------------------------------------------------------------

LABEL = "waiting"  # the blocked label, set by each test below: the setting is what counts
CONTENT = {"content": "Buy milk", "description": "", "priority": 1, "due_date": None}


def achieved(**fields):
    return {**CONTENT, "blocked": False, "done": False, "project": PROJECT, **fields}


def created():
    return new_mapping(OPEN)  # request_id "req-1"


def known():
    return synced_mapping(OPEN)  # todoist_task_id "td-1"


ADD_ARGS = {"content": "Buy milk", "description": "", "priority": 1}


@pytest.mark.parametrize(
    ("plan", "mapping_of", "labels_now", "project_id", "expected"),
    [
        pytest.param(TaskPlan(create=True, achieved=achieved()), created, None, None,
                     [("item_add", ADD_ARGS)], id="create-open-inbox"),
        pytest.param(TaskPlan(create=True, achieved=achieved(due_date="2030-01-31")), created,
                     None, None, [("item_add", {**ADD_ARGS, "due": {"date": "2030-01-31"}})],
                     id="create-with-due"),
        pytest.param(TaskPlan(create=True, achieved=achieved()), created, None, "pr-9",
                     [("item_add", {**ADD_ARGS, "project_id": "pr-9"})], id="create-in-project"),
        pytest.param(TaskPlan(create=True, achieved=achieved(blocked=True)), created, None, None,
                     [("item_add", {**ADD_ARGS, "labels": [LABEL]})], id="create-blocked"),
        # The close names the create's temp_id: Todoist resolves it within the request.
        pytest.param(TaskPlan(create=True, close=True, achieved=achieved(done=True)), created,
                     None, None, [("item_add", ADD_ARGS), ("item_close", {"id": "req-1"})],
                     id="create-done"),
        pytest.param(TaskPlan(update={"content": "New", "due_date": None}, achieved=achieved()),
                     known, None, None,
                     [("item_update", {"id": "td-1", "content": "New", "due": None})],
                     id="update-fields"),
        # Labels a person added in Todoist are kept.
        pytest.param(TaskPlan(set_blocked=True, achieved=achieved()), known, ["home"], None,
                     [("item_update", {"id": "td-1", "labels": ["home", LABEL]})],
                     id="relabel-add"),
        pytest.param(TaskPlan(set_blocked=False, achieved=achieved()), known, [LABEL, "home"],
                     None, [("item_update", {"id": "td-1", "labels": ["home"]})],
                     id="relabel-remove"),
        pytest.param(TaskPlan(set_blocked=True, achieved=achieved()), known, [LABEL], None, [],
                     id="relabel-already-there"),
        # Labels not read: nothing to send rather than someone's labels overwritten.
        pytest.param(TaskPlan(set_blocked=True, achieved=achieved()), known, None, None, [],
                     id="relabel-unread"),
        pytest.param(TaskPlan(move=True, achieved=achieved()), known, None, "pr-9",
                     [("item_move", {"id": "td-1", "project_id": "pr-9"})], id="move"),
        # No id to move to (the inbox's not read yet): nothing rather than a refused command.
        pytest.param(TaskPlan(move=True, achieved=achieved(project="Inbox")), known, None, None,
                     [], id="move-without-project-id"),
        pytest.param(TaskPlan(reopen=True, update={"priority": 4}, achieved=achieved()), known,
                     None, None, [("item_uncomplete", {"id": "td-1"}),
                                  ("item_update", {"id": "td-1", "priority": 4})],
                     id="reopen-then-update"),
        pytest.param(TaskPlan(close=True, achieved=achieved(done=True)), known, None, None,
                     [("item_close", {"id": "td-1"})], id="close"),
        # Every kind at once, in the order Todoist must run them.
        pytest.param(TaskPlan(reopen=True, move=True, update={"content": "New"}, close=True,
                              achieved=achieved()), known, None, "pr-9",
                     [("item_uncomplete", {"id": "td-1"}),
                      ("item_move", {"id": "td-1", "project_id": "pr-9"}),
                      ("item_update", {"id": "td-1", "content": "New"}),
                      ("item_close", {"id": "td-1"})], id="order"),
    ],
)  # fmt: skip
def test_commands_for(settings, plan, mapping_of, labels_now, project_id, expected):
    settings.TODOIST_BLOCKED_LABEL = LABEL
    commands = commands_for(plan, mapping_of(), labels_now, project_id=project_id)
    assert [(c["type"], c["args"]) for c in commands] == expected
    # Each command has a uuid of its own; a create's is its request_id, so a resend never
    # creates twice.
    assert len({c["uuid"] for c in commands}) == len(commands)
    for c in commands:
        if c["type"] == "item_add":
            assert c["uuid"] == c["temp_id"] == "req-1"


def test_commands_for_gives_fresh_uuids_each_time():
    plan = TaskPlan(update={"content": "New"}, achieved=achieved())
    first = commands_for(plan, known(), None)
    second = commands_for(plan, known(), None)
    assert first[0]["uuid"] != second[0]["uuid"]


# -- with_real_ids --------------------------------------------------------------------------------

STORED = [
    command("item_add", "req-1", content="Buy milk"),
    command("item_close", "c-1", id="req-1"),
    command("item_update", "u-1", id="td-other", content="x"),
]


def test_with_real_ids_names_the_confirmed_create():
    mapping = new_mapping(OPEN, todoist_task_id="td-1")
    fixed = with_real_ids(STORED, mapping)
    # The create is done; what followed names it by its id, under the same uuids.
    assert [(c["type"], c["uuid"], c["args"]) for c in fixed] == [
        ("item_close", "c-1", {"id": "td-1"}),
        ("item_update", "u-1", {"id": "td-other", "content": "x"}),
    ]
    assert STORED[1]["args"] == {"id": "req-1"}  # the stored commands are not changed


def test_with_real_ids_waits_for_the_id():
    assert with_real_ids(STORED, new_mapping(OPEN)) is STORED
