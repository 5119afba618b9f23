"""The field mapping, local task -> Todoist, and the plan of commands: pure functions, no I/O.

Mapping (deterministic; docs/sync.md "Field mapping" documents it):

- title -> `content` (1..500 characters after trimming), description -> `description`
- priority 1..4 (1 most urgent, shown as p1) -> Todoist `priority` 5 - p (4 is Todoist's p1)
- due_date -> `due` {"date": "YYYY-MM-DD"}; a cleared date clears it (`due: null`)
- status: the host's values map onto open / blocked / done (`todoist_sync.task_model`);
  `blocked` -> stays open in Todoist with the blocked label added to the task's labels
  (labels a person added in Todoist are kept); `done` -> completed; back to open -> reopened
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from todoist_sync.task_model import LocalTask, SyncStatus

CONTENT_MAX = 500
DESCRIPTION_MAX = 16383
CONTENT_FIELDS = ("content", "description", "priority", "due_date")


class PayloadError(ValueError):
    """A task that Todoist would refuse; permanent until the task changes."""

    def __init__(self, field_name: str, reason: str) -> None:
        self.field = field_name
        self.reason = reason
        super().__init__(f"{field_name}: {reason}")


def snapshot_for(
    *, title: Any, description: Any, priority: Any, due_date: Any, status: str
) -> dict[str, Any]:
    """What Todoist should hold for a local task. Raises PayloadError naming the field."""
    if not isinstance(title, str):
        raise PayloadError("content", "is not text")
    content = title.strip()
    if not content:
        raise PayloadError("content", "is empty")
    if len(content) > CONTENT_MAX:
        raise PayloadError("content", f"is longer than {CONTENT_MAX} characters ({len(content)})")
    if "\x00" in content:
        raise PayloadError("content", "contains a NUL character")
    description = description or ""
    if not isinstance(description, str):
        raise PayloadError("description", "is not text")
    if len(description) > DESCRIPTION_MAX:
        raise PayloadError(
            "description", f"is longer than {DESCRIPTION_MAX} characters ({len(description)})"
        )
    if "\x00" in description:
        raise PayloadError("description", "contains a NUL character")
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 4:
        raise PayloadError("priority", f"must be 1..4, not {priority!r}")
    due = None
    if due_date is not None:
        try:
            due = due_date.isoformat()
        except AttributeError:
            raise PayloadError("due_date", f"is not a date: {due_date!r}") from None
    done = status == "done"
    return {
        "content": content,
        "description": description,
        "priority": 5 - priority,
        "due_date": due,
        # Whether the blocked label should be on the task; None: not managed while completed.
        "blocked": None if done else status == "blocked",
        "done": done,
    }


def task_snapshot(task: LocalTask, *, project: str) -> dict[str, Any]:
    """The snapshot of a task in its Todoist project (by name); an archived task (deleted
    through the API) is closed."""
    if task.priority is None:
        raise PayloadError("priority", f"has no Todoist priority: {task.raw_priority!r}")
    snapshot = snapshot_for(
        title=task.title,
        description=task.description,
        priority=task.priority,
        due_date=task.due_date,
        status=SyncStatus.DONE if task.archived else task.status,
    )
    snapshot["project"] = project
    return snapshot


def fingerprint(snapshot: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(snapshot, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ).hexdigest()


@dataclass
class TaskPlan:
    """What one task needs this round. `achieved` is the snapshot Todoist holds once it's done."""

    create: bool = False
    reopen: bool = False
    update: dict[str, Any] = field(default_factory=dict)
    set_blocked: bool | None = None  # add (True) / remove (False) the label; needs the labels
    move: bool = False  # to achieved["project"]
    close: bool = False
    achieved: dict[str, Any] = field(default_factory=dict)
    # Something waits for the next round (a completed task's label, readable once reopened).
    deferred: bool = False

    def describe(self) -> str:
        parts = []
        if self.create:
            parts.append("create")
        if self.reopen:
            parts.append("reopen")
        if self.update:
            parts.append("update " + ", ".join(sorted(self.update)))
        if self.set_blocked is not None:
            parts.append("add blocked label" if self.set_blocked else "remove blocked label")
        if self.move:
            parts.append(f"move to {self.achieved.get('project')!r}")
        if self.close:
            parts.append("close")
        return " + ".join(parts) or "nothing"


def resolve(desired: dict[str, Any], pushed: dict[str, Any] | None) -> dict[str, Any]:
    """`desired` with its don't-care parts filled from what Todoist holds.

    A completed task's label is left as it is (`blocked: None` means don't care), so closing a
    task never costs a read of its labels, and a completed task stays in the project it is in
    (it does not count towards a project's cap, and moving it would gain nothing). Compare
    `fingerprint(resolve(...))` with the pushed fingerprint to know whether a task changed.
    """
    resolved = desired
    if desired["blocked"] is None:
        resolved = {**resolved, "blocked": bool(pushed and pushed.get("blocked"))}
    if desired["done"] and pushed is not None:
        resolved = {**resolved, "project": pushed.get("project")}
    return resolved


def plan_task(desired: dict[str, Any], pushed: dict[str, Any] | None) -> TaskPlan:
    """Compare what Todoist should hold with what we last pushed; list the changes."""
    target = resolve(desired, pushed)
    if pushed is None:
        # Create carries everything, labels included; a done task is closed right after.
        return TaskPlan(create=True, close=target["done"], achieved=target)
    plan = TaskPlan(achieved=dict(target))
    if pushed["done"] and not target["done"]:
        plan.reopen = True
    plan.update = {
        name: target[name] for name in CONTENT_FIELDS if target[name] != pushed.get(name)
    }
    if target["blocked"] != bool(pushed.get("blocked")):
        if pushed["done"]:
            # A completed Todoist task is not readable, so its labels wait for the next round.
            plan.achieved["blocked"] = bool(pushed.get("blocked"))
            plan.deferred = True
        else:
            plan.set_blocked = target["blocked"]
    if target.get("project") != pushed.get("project"):
        plan.move = True
    if target["done"] and not pushed["done"]:
        plan.close = True
    return plan


def due_arg(due_date: str | None) -> dict[str, str] | None:
    return {"date": due_date} if due_date else None


def item_args(fields: dict[str, Any]) -> dict[str, Any]:
    """Snapshot fields -> `/sync` item args (`due_date` becomes the `due` object)."""
    args: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "due_date":
            args["due"] = due_arg(value)
        elif name in ("content", "description", "priority"):
            args[name] = value
    return args


def labels_with(current: list[str], *, label: str, present: bool) -> list[str]:
    """The task's labels with ours added or removed, keeping everyone else's in order."""
    kept = [name for name in current if name != label]
    return [*kept, label] if present else kept
