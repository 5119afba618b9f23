"""What a run does with each task, and the `/sync` commands that do it: no I/O but reads.

`decide` is the single place that classifies a task, for the engine and the dry run alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.utils import timezone

from todoist_sync import selectors
from todoist_sync.conf import RecurringDone, conf
from todoist_sync.models import TodoistTaskMap
from todoist_sync.payloads import (
    CONTENT_FIELDS,
    PayloadError,
    TaskPlan,
    due_after,
    fingerprint,
    item_args,
    labels_with,
    plan_task,
    resolve,
    task_snapshot,
)
from todoist_sync.services.projects import project_namer
from todoist_sync.task_model import LocalTask

State = TodoistTaskMap.SyncState


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    CLOSE = "close"
    REOPEN = "reopen"
    RESEND = "resend"
    UNCHANGED = "unchanged"
    SKIP = "skip"
    INVALID = "invalid"


# The actions that send something (in the order the dry run lists them).
PLANNED_ACTIONS = (Action.CREATE, Action.UPDATE, Action.CLOSE, Action.REOPEN, Action.RESEND)


class SkipReason(StrEnum):
    UNKNOWN_STATUS = "unknown status"
    PERMANENT_ERROR = "permanent error"
    RETRY_LATER = "retry later"


@dataclass
class Decision:
    """What a run does with one task this round, and why (the dry run prints these)."""

    task: LocalTask
    mapping: TodoistTaskMap | None
    action: Action
    reason: str
    plan: TaskPlan | None = None
    error: PayloadError | None = None
    skip: SkipReason | None = None


def project_names(decisions: list[Decision]) -> set[str]:
    """The projects these decisions put tasks in (creates, reopens and moves)."""
    return {
        d.plan.achieved["project"]
        for d in decisions
        if d.plan is not None and (d.plan.create or d.plan.reopen or d.plan.move)
    }


def raw_fingerprint(task: LocalTask) -> str:
    """Fingerprint of the local fields as they are, valid or not (a permanent error waits for
    this to change)."""
    return fingerprint(
        {
            "title": task.title,
            "description": task.description,
            "priority": task.raw_priority,
            "due_date": task.due_date.isoformat() if task.due_date else None,
            "status": task.raw_status,
        }
    )


def decide(
    *,
    task: LocalTask,
    mapping: TodoistTaskMap | None,
    now: datetime,
    project: str,
    retry_errors: bool = False,
) -> Decision:
    """Classify one task, whose Todoist project is named `project`."""
    if task.status is None:
        return Decision(
            task,
            mapping,
            Action.SKIP,
            f"unknown status {task.raw_status!r}",
            skip=SkipReason.UNKNOWN_STATUS,
        )
    if mapping is not None and mapping.sync_state == State.ERROR and not retry_errors:
        if mapping.error_permanent and mapping.failed_fingerprint == raw_fingerprint(task):
            return Decision(
                task,
                mapping,
                Action.SKIP,
                f"permanent error: {mapping.last_error}",
                skip=SkipReason.PERMANENT_ERROR,
            )
        if not mapping.error_permanent and mapping.next_retry_at and mapping.next_retry_at > now:
            return Decision(
                task,
                mapping,
                Action.SKIP,
                f"retrying at {mapping.next_retry_at.isoformat()}",
                skip=SkipReason.RETRY_LATER,
            )
    if mapping is not None and mapping.inflight:
        kinds = ", ".join(c["type"] for c in mapping.inflight["commands"])
        return Decision(
            task, mapping, Action.RESEND, f"unconfirmed commands re-sent as they were: {kinds}"
        )
    try:
        desired = task_snapshot(task, project=project)
    except PayloadError as exc:
        return Decision(task, mapping, Action.INVALID, str(exc), error=exc)
    known = mapping is not None and mapping.todoist_task_id and mapping.pushed is not None
    if known and fingerprint(resolve(desired, mapping.pushed)) == mapping.pushed_fingerprint:
        return Decision(task, mapping, Action.UNCHANGED, "fingerprint matches the last push")
    plan = plan_task(desired, mapping.pushed if known else None)
    if plan.create:
        return Decision(task, mapping, Action.CREATE, "not in Todoist yet", plan)
    action = Action.CLOSE if plan.close else Action.REOPEN if plan.reopen else Action.UPDATE
    return Decision(task, mapping, action, plan.describe(), plan)


def sync_plan(
    *,
    user_id: int,
    chat_id: int | None = None,
    task_ids: Sequence[int] | None = None,
    retry_errors: bool = False,
    namer: Callable[[str], str] | None = None,
) -> list[Decision]:
    """Every task in scope, decided (two queries, whatever the size): what a run does this
    round, and what `--dry-run` prints, sending and writing nothing. `namer` gives each
    project its name in Todoist (`projects.project_namer`; looked up when None, which costs
    up to three queries more)."""
    if namer is None:
        namer = project_namer(user_id=user_id)
    tasks, maps = selectors.sync_candidates(user_id=user_id, chat_id=chat_id, task_ids=task_ids)
    chat_projects = selectors.chat_projects(user_id=user_id)
    default = conf.TODOIST_PROJECT_NAME
    now = timezone.now()
    return [
        decide(
            task=t,
            mapping=maps.get(t.id),
            now=now,
            project=namer(chat_projects.get(t.chat_id, default)),
            retry_errors=retry_errors,
        )
        for t in tasks
    ]


def commands_for(
    plan: TaskPlan,
    mapping: TodoistTaskMap,
    labels_now: list[str] | None,
    *,
    project_id: str | None = None,
    due_now: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The `/sync` commands of one task's plan; a create's uuid and temp_id are its
    `request_id`, so a resend can never create twice. `project_id` is the id (or temp_id) of
    the project a create or a move goes to (None: the inbox). `due_now`: the refinements of
    the task's due as Todoist holds it now, when just read (otherwise the snapshot's)."""

    def command(kind: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"type": kind, "uuid": str(uuid.uuid4()), "args": args}

    commands = []
    target = mapping.todoist_task_id
    if plan.create:
        args = item_args({name: plan.achieved[name] for name in CONTENT_FIELDS})
        if args.get("due") is None:
            args.pop("due", None)
        if plan.achieved["blocked"]:
            args["labels"] = [conf.TODOIST_BLOCKED_LABEL]
        if project_id:
            args["project_id"] = project_id
        commands.append(
            {
                "type": "item_add",
                "uuid": mapping.request_id,
                "temp_id": mapping.request_id,
                "args": args,
            }
        )
        target = mapping.request_id  # Todoist resolves a temp_id within the same request
    if plan.reopen:
        commands.append(command("item_uncomplete", {"id": target}))
    if plan.move and project_id:
        commands.append(command("item_move", {"id": target, "project_id": project_id}))
    kept = due_now if due_now is not None else plan.achieved.get("due")
    update = item_args(plan.update, kept_due=kept)
    if "due" in update:
        # What Todoist holds once this lands: the new date with the refinements kept.
        plan.achieved["due"] = due_after(update["due"], kept)
    if plan.set_blocked is not None and labels_now is not None:
        wanted = labels_with(labels_now, label=conf.TODOIST_BLOCKED_LABEL, present=plan.set_blocked)
        if wanted != labels_now:
            update["labels"] = wanted
    if update:
        commands.append(command("item_update", {"id": target, **update}))
    if plan.close:
        # On a task recurring in Todoist, item_close closes one occurrence (it moves on, open);
        # item_complete ends the recurrence (TODOIST_RECURRING_DONE).
        recurring = bool(kept and kept.get("is_recurring"))
        ends = recurring and conf.TODOIST_RECURRING_DONE == RecurringDone.COMPLETE
        commands.append(command("item_complete" if ends else "item_close", {"id": target}))
    return commands


def with_real_ids(commands: list[dict[str, Any]], mapping: TodoistTaskMap) -> list[dict[str, Any]]:
    """Once the create is confirmed, later commands refer to the real id, not the temp_id."""
    if not mapping.todoist_task_id:
        return commands
    fixed = []
    for command in commands:
        if command["type"] == "item_add":
            continue
        args = command["args"]
        if args.get("id") == mapping.request_id:
            command = {**command, "args": {**args, "id": mapping.todoist_task_id}}
        fixed.append(command)
    return fixed
