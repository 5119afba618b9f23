"""The field mapping, local task -> Todoist, and the plan of commands: pure functions, no I/O.

Mapping (deterministic; docs/sync.md "Field mapping" documents it):

- title -> `content` (1..500 characters after trimming), description -> `description`
- priority 1..4 (1 most urgent, shown as p1) -> Todoist `priority` 5 - p (4 is Todoist's p1)
- due_date -> `due` {"date": "YYYY-MM-DD"}; a cleared date clears it (`due: null`). Only the
  *date* is ours (README "Who owns which field"): a time of day, time zone or recurrence a person
  set in Todoist is kept (`due_arg`), and remembered in the snapshot as `due`
- status: the host's values map onto open / blocked / done (`todoist_sync.task_model`);
  `blocked` -> stays open in Todoist with the blocked label added to the task's labels
  (labels a person added in Todoist are kept); `done` -> completed; back to open -> reopened
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from todoist_sync.task_model import LocalTask, SyncStatus

CONTENT_MAX = 500
DESCRIPTION_MAX = 16383
CONTENT_FIELDS = ("content", "description", "priority", "due_date")
# Snapshot keys Todoist owns, learned from its answers and never sent back as they are: `due`,
# the due's refinements (time, time zone, recurrence; None when it is a plain date), and
# `moved`, set when a person moved the task into another project (it stays there).
TODOIST_OWNED = ("due", "moved")


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
    if pushed is not None:
        # Todoist's refinements are never ours to change: carried over as they are.
        owned = {key: pushed[key] for key in TODOIST_OWNED if key in pushed}
        if owned.get("moved"):
            owned["project"] = pushed.get("project")
        if owned:
            resolved = {**resolved, **owned}
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


def refinements(due: Any) -> dict[str, Any] | None:
    """What of a Todoist due is Todoist's (README "Who owns which field"): the due itself when
    it has a time of day or a recurrence, None for a plain date (nothing to keep)."""
    if not isinstance(due, dict) or not isinstance(due.get("date"), str):
        return None
    if len(due["date"]) <= 10 and not due.get("is_recurring"):
        return None
    return {
        "date": due["date"],
        "timezone": due.get("timezone"),
        "string": due.get("string"),
        "lang": due.get("lang"),
        "is_recurring": bool(due.get("is_recurring")),
    }


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_day(due: Any) -> str | None:
    """The calendar date of a Todoist due (`YYYY-MM-DD`): for a time in UTC, the date in the
    due's time zone."""
    if not isinstance(due, dict) or not isinstance(due.get("date"), str):
        return None
    value = due["date"]
    if value.endswith("Z"):
        try:
            instant = datetime.fromisoformat(value.removesuffix("Z")).replace(tzinfo=UTC)
        except ValueError:
            return value[:10]
        return instant.astimezone(_zone(due.get("timezone"))).date().isoformat()
    return value[:10]


def due_arg(due_date: str | None, kept: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The `due` that puts the local date in Todoist, keeping the time of day, time zone and
    recurrence a person set there (`kept`, from `refinements`): a recurring due goes with its
    `string`, as Doist's own clients send it, since a date alone drops the recurrence."""
    if not due_date:
        return None
    if not kept:
        return {"date": due_date}
    value = kept["date"]
    day = date.fromisoformat(due_date)
    if value.endswith("Z"):
        zone = _zone(kept.get("timezone"))
        old = datetime.fromisoformat(value.removesuffix("Z")).replace(tzinfo=UTC).astimezone(zone)
        moved = datetime.combine(day, old.time().replace(tzinfo=None), tzinfo=zone)
        new_date = moved.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif "T" in value:
        new_date = f"{due_date}T{value.partition('T')[2]}"
    else:
        new_date = due_date
    arg: dict[str, Any] = {"date": new_date}
    if kept.get("timezone"):
        arg["timezone"] = kept["timezone"]
    if kept.get("is_recurring") and kept.get("string"):
        arg["string"] = kept["string"]
        if kept.get("lang"):
            arg["lang"] = kept["lang"]
    return arg


def due_after(arg: dict[str, Any] | None, kept: dict[str, Any] | None) -> dict[str, Any] | None:
    """The refinements Todoist holds once `arg` (from `due_arg`) lands."""
    if arg is None or not kept:
        return None
    return refinements({**kept, **arg})


def item_args(fields: dict[str, Any], *, kept_due: dict[str, Any] | None = None) -> dict[str, Any]:
    """Snapshot fields -> `/sync` item args (`due_date` becomes the `due` object, keeping
    `kept_due`'s refinements)."""
    args: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "due_date":
            args["due"] = due_arg(value, kept_due)
        elif name in ("content", "description", "priority"):
            args[name] = value
    return args


def labels_with(current: list[str], *, label: str, present: bool) -> list[str]:
    """The task's labels with ours added or removed, keeping everyone else's in order."""
    kept = [name for name in current if name != label]
    return [*kept, label] if present else kept
