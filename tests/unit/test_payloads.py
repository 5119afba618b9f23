"""The field mapping and the plan (`todoist_sync.payloads`): pure functions, no database."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.builders import DUE, PROJECT, local_task, pushed_as
from todoist_sync.payloads import (
    PayloadError,
    TaskPlan,
    fingerprint,
    item_args,
    plan_task,
    resolve,
    task_snapshot,
)

# -- task_snapshot --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, {}, id="open-p4"),
        # p1 is the most urgent locally and Todoist's priority 4.
        pytest.param({"priority": 1, "raw_priority": 1}, {"priority": 4}, id="p1-is-todoist-4"),
        pytest.param({"title": "  Trim me  "}, {"content": "Trim me"}, id="title-trimmed"),
        pytest.param({"description": None}, {"description": ""}, id="no-description"),
        pytest.param({"due_date": DUE}, {"due_date": "2030-01-31"}, id="due-date"),
        pytest.param({"raw_status": "blocked"}, {"blocked": True}, id="blocked"),
        # A completed task's label is not managed (None: don't care).
        pytest.param({"raw_status": "done"}, {"done": True, "blocked": None}, id="done"),
        pytest.param({"archived": True}, {"done": True, "blocked": None}, id="archived-is-closed"),
    ],
)
def test_task_snapshot(fields, expected):
    base = {
        "content": "Buy milk",
        "description": "",
        "priority": 1,
        "due_date": None,
        "blocked": False,
        "done": False,
        "project": PROJECT,
    }
    assert task_snapshot(local_task(**fields), project=PROJECT) == {**base, **expected}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"title": None}, "content", id="title-not-text"),
        pytest.param({"title": "   "}, "content", id="title-blank"),
        pytest.param({"title": "x" * 501}, "content", id="title-too-long"),
        pytest.param({"title": "a\x00b"}, "content", id="title-nul"),
        pytest.param({"description": 5}, "description", id="description-not-text"),
        pytest.param({"description": "d" * 16384}, "description", id="description-too-long"),
        pytest.param({"description": "\x00"}, "description", id="description-nul"),
        pytest.param(
            {"priority": None, "raw_priority": "urgent"}, "priority", id="priority-unmapped"
        ),
        pytest.param({"priority": 5}, "priority", id="priority-out-of-range"),
        pytest.param({"priority": True}, "priority", id="priority-bool"),
        pytest.param({"due_date": "2030-01-31"}, "due_date", id="due-not-a-date"),
    ],
)
def test_task_snapshot_refuses_what_todoist_would(fields, field):
    with pytest.raises(PayloadError) as refused:
        task_snapshot(local_task(**fields), project=PROJECT)
    assert refused.value.field == field


def test_the_longest_title_todoist_takes_is_valid():
    assert task_snapshot(local_task(title="x" * 500), project=PROJECT)["content"] == "x" * 500


# -- resolve --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "pushed", "blocked", "project"),
    [
        # Open tasks: the label and the project are what the task says.
        pytest.param(local_task(), None, False, "Work", id="open-new"),
        pytest.param(
            local_task(), {"blocked": True, "project": PROJECT}, False, "Work", id="open-pushed"
        ),
        # Done: the label as Todoist has it, and the task stays where it is.
        pytest.param(local_task(raw_status="done"), None, False, "Work", id="done-new"),
        pytest.param(
            local_task(raw_status="done"),
            {"blocked": True, "project": PROJECT},
            True,
            PROJECT,
            id="done-keeps-label-and-project",
        ),
    ],
)
def test_resolve_fills_what_does_not_matter_from_todoist(task, pushed, blocked, project):
    resolved = resolve(task_snapshot(task, project="Work"), pushed)
    assert (resolved["blocked"], resolved["project"]) == (blocked, project)


# -- plan_task ------------------------------------------------------------------------------------

OPEN = local_task()
DONE = local_task(raw_status="done")
BLOCKED = local_task(raw_status="blocked")


@pytest.mark.parametrize(
    ("task", "pushed", "plan"),
    [
        pytest.param(OPEN, None, {"create": True}, id="create-open"),
        pytest.param(DONE, None, {"create": True, "close": True}, id="create-then-close-done"),
        pytest.param(OPEN, pushed_as(OPEN), {}, id="nothing"),
        pytest.param(
            local_task(title="Buy oat milk"),
            pushed_as(OPEN),
            {"update": {"content": "Buy oat milk"}},
            id="update-title",
        ),
        pytest.param(
            local_task(due_date=DUE),
            pushed_as(OPEN),
            {"update": {"due_date": "2030-01-31"}},
            id="set-due",
        ),
        pytest.param(
            OPEN,
            pushed_as(local_task(due_date=DUE)),
            {"update": {"due_date": None}},
            id="clear-due",
        ),
        pytest.param(
            local_task(priority=1), pushed_as(OPEN), {"update": {"priority": 4}}, id="priority"
        ),
        pytest.param(BLOCKED, pushed_as(OPEN), {"set_blocked": True}, id="add-label"),
        pytest.param(OPEN, pushed_as(BLOCKED), {"set_blocked": False}, id="remove-label"),
        pytest.param(OPEN, pushed_as(DONE), {"reopen": True}, id="reopen"),
        # A completed Todoist task's labels cannot be read: the label waits a round.
        pytest.param(
            BLOCKED, pushed_as(DONE), {"reopen": True, "deferred": True}, id="reopen-label-deferred"
        ),
        pytest.param(DONE, pushed_as(OPEN), {"close": True}, id="close"),
        pytest.param(DONE, pushed_as(BLOCKED), {"close": True}, id="close-keeps-label"),
        pytest.param(OPEN, pushed_as(OPEN, project="Work"), {"move": True}, id="move"),
        # A task completed elsewhere is closed where it is, never moved.
        pytest.param(DONE, pushed_as(OPEN, project="Work"), {"close": True}, id="close-no-move"),
    ],
)
def test_plan_task(task, pushed, plan):
    planned = plan_task(task_snapshot(task, project=PROJECT), pushed)
    expected = {"update": {}, **plan}
    got = {name: getattr(planned, name) for name in TaskPlan.__dataclass_fields__}
    defaults = {name: getattr(TaskPlan(), name) for name in TaskPlan.__dataclass_fields__}
    del got["achieved"], defaults["achieved"]
    assert got == {**defaults, **expected}


def test_a_deferred_label_is_not_claimed_achieved():
    plan = plan_task(task_snapshot(BLOCKED, project=PROJECT), pushed_as(DONE))
    assert plan.achieved["blocked"] is False  # what Todoist still holds, so the next round asks


def test_describe_names_every_part():
    plan = TaskPlan(
        create=True,
        reopen=True,
        update={"priority": 4, "content": "x"},
        set_blocked=False,
        move=True,
        close=True,
        achieved={"project": "Work"},
    )
    assert plan.describe() == (
        "create + reopen + update content, priority + remove blocked label + move to 'Work' + close"
    )
    assert TaskPlan().describe() == "nothing"


# -- item_args and fingerprint --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "args"),
    [
        pytest.param({"content": "x", "priority": 4}, {"content": "x", "priority": 4}, id="plain"),
        pytest.param({"due_date": "2030-01-31"}, {"due": {"date": "2030-01-31"}}, id="due"),
        pytest.param({"due_date": None}, {"due": None}, id="due-cleared"),
        # Not item fields: the label, the state and the project go by other commands.
        pytest.param({"blocked": True, "done": True, "project": "P"}, {}, id="not-item-args"),
    ],
)
def test_item_args(fields: dict[str, Any], args: dict[str, Any]):
    assert item_args(fields) == args


def test_fingerprint_ignores_key_order_and_sees_every_value():
    snapshot = pushed_as(OPEN)
    assert fingerprint(dict(reversed(snapshot.items()))) == fingerprint(snapshot)
    assert fingerprint({**snapshot, "priority": 3}) != fingerprint(snapshot)
    # Text the host may hold (a lone surrogate) still has a fingerprint.
    assert fingerprint({"content": "\ud800"}) != fingerprint({"content": "?"})
