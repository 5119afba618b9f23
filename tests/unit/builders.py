"""Inputs for the unit tests, built in memory: a local task, a mapping as a run would hold it,
and the commands a mapping carries. Nothing here touches the database or the network."""

from __future__ import annotations

from datetime import date
from typing import Any

from todoist_sync.models import TodoistTaskMap
from todoist_sync.payloads import fingerprint, resolve, task_snapshot
from todoist_sync.task_model import LocalTask, SyncStatus

State = TodoistTaskMap.SyncState
PROJECT = "Planner"


def local_task(**fields: Any) -> LocalTask:
    """An open p4 task "Buy milk" in no chat; `raw_status` decides `status` (an unknown value
    gives None, as the contract reads it), unless `status` is given too."""
    values: dict[str, Any] = {
        "id": 1,
        "owner_id": 1,
        "chat_id": None,
        "title": "Buy milk",
        "description": "",
        "raw_status": "open",
        "priority": 4,
        "raw_priority": 4,
        "due_date": None,
        "archived": False,
    }
    values.update(fields)
    if "status" not in values:
        raw = values["raw_status"]
        values["status"] = SyncStatus(raw) if raw in list(SyncStatus) else None
    return LocalTask(**values)


def pushed_as(task: LocalTask, *, project: str = PROJECT) -> dict[str, Any]:
    """What Todoist holds once `task` was pushed as it is (the plan's `achieved`)."""
    return resolve(task_snapshot(task, project=project), None)


def synced_mapping(task: LocalTask, *, in_project: str = PROJECT, **fields: Any) -> TodoistTaskMap:
    """An unsaved mapping of `task` in Todoist as `td-1`, last pushed as the task is now."""
    pushed = fields.pop("pushed") if "pushed" in fields else pushed_as(task, project=in_project)
    values: dict[str, Any] = {
        "local_task_id": task.id,
        "request_id": "req-1",
        "todoist_task_id": "td-1",
        "pushed": pushed,
        "pushed_fingerprint": fingerprint(pushed) if pushed is not None else "",
        "sync_state": State.SYNCED,
    }
    values.update(fields)
    return TodoistTaskMap(**values)


def new_mapping(task: LocalTask, **fields: Any) -> TodoistTaskMap:
    """An unsaved mapping of a task not in Todoist yet (committed before its create leaves)."""
    return TodoistTaskMap(**{"local_task_id": task.id, "request_id": "req-1", **fields})


def command(kind: str, uuid: str, **args: Any) -> dict[str, Any]:
    cmd: dict[str, Any] = {"type": kind, "uuid": uuid, "args": args}
    if kind == "item_add":
        cmd["temp_id"] = uuid
    return cmd


DUE = date(2030, 1, 31)
