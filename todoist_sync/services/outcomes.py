"""What Todoist's answers do to a mapping: synced, pending again, retried later, or in error.

The single place for the error policy of one task (docs/sync.md, "Error policy"); the policy
itself is read off the error's class (`todoist_sync.exceptions`).
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone

from todoist_sync.conf import conf
from todoist_sync.events import EventBuffer, Level
from todoist_sync.exceptions import TodoistError
from todoist_sync.models import SyncRun, TodoistTaskMap
from todoist_sync.payloads import fingerprint
from todoist_sync.services.persistence import PushItem, forget_todoist_id
from todoist_sync.services.planning import Decision, raw_fingerprint, with_real_ids
from todoist_sync.services.projects import ProjectDirectory, full_reason
from todoist_sync.services.round import RoundState
from todoist_sync.task_model import LocalTask

State = TodoistTaskMap.SyncState
DELETED_REASON = "deleted in Todoist (or completed there): not found"

# Commands that take a task out of the active ones (a closed occurrence comes back, moved on).
CLOSING = ("item_close", "item_complete")
# The run counter each confirmed command adds to.
COUNTERS = {
    "item_add": "created",
    "item_update": "updated",
    "item_close": "closed",
    "item_complete": "closed",
    "item_uncomplete": "reopened",
}


def failure_event(
    task: LocalTask, mapping: TodoistTaskMap, error: TodoistError
) -> tuple[Level, str, dict[str, Any]]:
    """The event of a task that ends the run in error, with its retry metadata."""
    return (
        Level.ERROR,
        f"Task {task.id} not synced: {mapping.last_error}",
        {
            "local_task_id": task.id,
            "todoist_task_id": mapping.todoist_task_id,
            "error": type(error).__name__,
            "status": error.status,
            "error_tag": error.error_tag,
            "attempts": mapping.attempts,
            "next_retry_at": mapping.next_retry_at.isoformat() if mapping.next_retry_at else None,
            "permanent": mapping.error_permanent,
        },
    )


def carried(
    mapping: TodoistTaskMap, commands: list[dict[str, Any]], achieved: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """New in-flight commands of a mapping, keeping where a read would find its create
    (`since`: the account's items sync token when the create was first sent)."""
    inflight = {"commands": commands, "achieved": achieved, **extra}
    since = (mapping.inflight or {}).get("since")
    if since:
        inflight["since"] = since
    return inflight


class OutcomePolicy:
    """Apply outcomes to mappings in memory; it writes nothing (the pushers write a batch's
    mappings in one UPDATE, the engine the rest of the round's).

    `run` is the tally; what the round is left with (tasks with a change to send, creates
    confirmed without their id, tasks a command found missing, the reasons of failures) is
    recorded in `state`, the round's own.
    """

    def __init__(
        self, *, run: SyncRun, events: EventBuffer, projects: ProjectDirectory, state: RoundState
    ) -> None:
        self.run = run
        self.events = events
        self.projects = projects
        self.state = state

    def settle(self, item: PushItem, statuses: list[Any], temp_ids: dict[str, str]) -> None:
        """Apply one task's command outcomes (in order; None = not attempted)."""
        mapping = item.mapping
        ok_add, missing_id, error = False, False, None
        remaining = []
        for command, status in zip(item.commands, statuses, strict=True):
            if status == "ok":
                counter = COUNTERS.get(command["type"])
                if counter:
                    setattr(self.run, counter, getattr(self.run, counter) + 1)
                if command["type"] == "item_add":
                    ok_add = True
                    real_id = temp_ids.get(command["temp_id"])
                    if real_id:
                        mapping.todoist_task_id = str(real_id)
                    elif not mapping.todoist_task_id:
                        missing_id = True
                elif command["type"] in CLOSING:
                    if not any(c["type"] == "item_add" for c in item.commands):
                        self.room_made(item)  # a task created closed never took a place
                continue
            if error is None and isinstance(status, TodoistError):
                error = status
            remaining.append(command)
        if missing_id:
            # Todoist ran the create (a replay of its uuid) but gave no id: never create again.
            # What followed it (held back, or failed for want of the id) goes again after a
            # read finds the task.
            adds = [c for c in item.commands if c["type"] == "item_add"]
            rest = [c for c in remaining if c["type"] != "item_add"]
            mapping.inflight = carried(
                mapping, adds + item.held + rest, item.achieved, add_confirmed=True
            )
            if mapping.sync_state != State.ERROR:
                mapping.sync_state = State.PENDING
            self.state.unconfirmed.append(item)
            return
        if error is None and item.held:
            # The create is confirmed with its id: what it held back goes next round.
            self.created_with_more(item, with_real_ids(item.held, mapping))
            return
        if error is None:
            self.mark_synced(mapping, item.achieved)
            return
        if self.wait_for_project(item, error, ok_add=ok_add):
            return
        self.settle_error(
            item.task,
            mapping,
            error,
            achieved=item.achieved,
            ok_add=ok_add,
            remaining=with_real_ids(remaining + item.held, mapping),
        )

    def created_with_more(self, item: PushItem, rest: list[dict[str, Any]]) -> None:
        """The task's create is confirmed and its id known; `rest` (what followed the create)
        goes next round under the commands' own uuids. Until then the mapping holds what the
        create made: an open task (a create's only follower is its close)."""
        mapping = item.mapping
        created = {**item.achieved, "done": False}
        mapping.pushed, mapping.pushed_fingerprint = created, fingerprint(created)
        mapping.inflight = carried(mapping, rest, item.achieved)
        if mapping.sync_state != State.ERROR:
            mapping.sync_state = State.PENDING
        mapping.updated_at = timezone.now()
        self.state.followups.add(item.task.id)

    def wait_for_project(self, item: PushItem, error: TodoistError, *, ok_add: bool) -> bool:
        """A create, reopen or move its project cannot take (full, refused, or deleted): the
        task waits, pending, without an error or an attempt. Return whether it was that."""
        name = item.achieved.get("project")
        if name is None or ok_add:
            return False
        mapping = item.mapping
        if error.project_full:
            self.projects.mark_full(name)
            reason = full_reason(name)
        elif self.projects.refused(name):
            reason = self.projects.refused(name)
        elif error.project_gone:
            # Deleted in Todoist (the batch's read forgot it: created again, with its tasks),
            # or being created and not known by its id yet: either way, next round.
            reason = f"Todoist project {name!r} is being created"
            self.state.followups.update(self.projects.take_reset())
            self.state.followups.add(item.task.id)
        else:
            return False
        self.wait(mapping, reason, name=name)
        return True

    def wait(self, mapping: TodoistTaskMap, reason: str, *, name: str) -> None:
        """The task stays pending until its project has room (or exists)."""
        mapping.inflight = None
        if not mapping.todoist_task_id:
            # The create did not run: a fresh uuid, since Todoist would not run the old one again.
            mapping.request_id = str(uuid.uuid4())
        mapping.waiting_reason = reason[:200]
        mapping.project = self.projects.project(name)
        if mapping.sync_state != State.ERROR:
            mapping.sync_state = State.PENDING
        mapping.updated_at = timezone.now()

    def room_made(self, item: PushItem) -> None:
        """A close freed a place in the task's project (tasks waiting for it go again)."""
        project = item.mapping.project
        name = project.name if project is not None else item.achieved.get("project")
        if name is not None:
            self.projects.mark_room(name)

    def gone_after_create(self, item: PushItem) -> None:
        """A read of Todoist shows the task gone (deleted there): created again under
        TODOIST_RECREATE_DELETED, otherwise a permanent error until the task changes."""
        task, mapping = item.task, item.mapping
        mapping.inflight = None
        if conf.TODOIST_RECREATE_DELETED:
            self.events.add(
                Level.WARNING,
                f"Task {task.id} was deleted in Todoist; it will be created again.",
                {"local_task_id": task.id},
            )
            self.recreate(task, mapping)
            return
        mapping.updated_at = timezone.now()
        self._fail(task, mapping, DELETED_REASON, permanent=True)
        self.events.add(
            Level.ERROR,
            f"Task {task.id} not synced: {DELETED_REASON}",
            {"local_task_id": task.id, "permanent": True},
        )

    def settle_error(
        self,
        task: LocalTask,
        mapping: TodoistTaskMap,
        error: TodoistError,
        *,
        achieved: dict[str, Any],
        ok_add: bool,
        remaining: list[dict[str, Any]],
    ) -> None:
        mapping.updated_at = timezone.now()
        inflight = carried(mapping, remaining, achieved) if remaining else None
        if error.stops_run:
            # Not the task's fault: it stays pending with its commands, and the run stops.
            mapping.inflight = inflight
            if mapping.sync_state != State.ERROR:
                mapping.sync_state = State.PENDING
            return
        deleted = error.task_gone and mapping.todoist_task_id and not ok_add
        if deleted and self.projects.forgot(mapping.project_id):
            self.recreate(task, mapping)  # a read found its project deleted: reported once
            return
        if deleted:
            # "Not found" alone proves nothing: the command may have named a temp_id that meant
            # nothing in its request, and Todoist answers a replayed uuid as it answered it the
            # first time. The task stays pending with its commands until a read decides
            # (`UnconfirmedResolver.confirm_gone`).
            mapping.inflight = inflight
            if mapping.sync_state != State.ERROR:
                mapping.sync_state = State.PENDING
            self.state.unverified.append(PushItem(task, mapping, remaining, achieved))
            return
        if error.transient:
            mapping.attempts += 1
            mapping.inflight = inflight
            if mapping.attempts >= conf.TODOIST_RETRY_MAX_ATTEMPTS:
                reason = f"gave up after {mapping.attempts} attempts: {error.detail}"
                self._fail(task, mapping, reason, permanent=True)
            else:
                mapping.next_retry_at = mapping.updated_at + timedelta(
                    seconds=self.backoff_seconds(mapping.attempts)
                )
                self._fail(task, mapping, f"temporary: {error.detail}", permanent=False)
        else:
            # Validation and anything Todoist refuses for this task: permanent until it changes.
            mapping.inflight = None
            if ok_add:
                # The create went through; only what followed failed. Never create again.
                done_part = {**achieved, "done": False}
                mapping.pushed, mapping.pushed_fingerprint = done_part, fingerprint(done_part)
            argument = getattr(error, "argument", None)
            reason = f"validation: {argument + ': ' if argument else ''}{error.detail}"
            self._fail(task, mapping, reason, permanent=True)
        self.events.add(*failure_event(task, mapping, error))

    def recreate(self, task: LocalTask, mapping: TodoistTaskMap) -> None:
        """Todoist no longer has the task: it is created again next round, under a fresh uuid."""
        forget_todoist_id(mapping)
        mapping.pushed, mapping.pushed_fingerprint = None, ""
        mapping.inflight, mapping.request_id = None, str(uuid.uuid4())
        mapping.sync_state, mapping.attempts = State.PENDING, 0
        mapping.last_error, mapping.error_permanent, mapping.next_retry_at = "", False, None
        self.state.followups.add(task.id)

    def fail_invalid(self, decision: Decision) -> None:
        """A task Todoist would refuse, caught before sending: permanent until it changes.
        Its mapping is stored already (the engine creates a new task's)."""
        task, error = decision.task, decision.error
        mapping = decision.mapping
        mapping.updated_at = timezone.now()
        self._fail(task, mapping, f"validation: {error}", permanent=True)
        self.events.add(
            Level.ERROR,
            f"Task {task.id} not synced: {mapping.last_error}",
            {"local_task_id": task.id, "field": error.field, "permanent": True},
        )

    def mark_synced(self, mapping: TodoistTaskMap, achieved: dict[str, Any]) -> None:
        now = timezone.now()
        if "project" in achieved:
            mapping.project = self.projects.project(achieved["project"])
        mapping.waiting_reason = ""
        mapping.pushed, mapping.pushed_fingerprint = achieved, fingerprint(achieved)
        mapping.inflight = None
        mapping.sync_state = State.SYNCED
        mapping.last_synced_at = now
        mapping.last_error = ""
        mapping.attempts = 0
        mapping.next_retry_at = None
        mapping.error_permanent = False
        mapping.failed_fingerprint = ""
        mapping.updated_at = now

    @staticmethod
    def backoff_seconds(attempts: int) -> float:
        """Full jitter: a random wait up to base * 2^(attempts - 1), capped."""
        ceiling = conf.TODOIST_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
        return random.uniform(0, min(conf.TODOIST_RETRY_CAP_SECONDS, ceiling))

    def _fail(self, task: LocalTask, mapping: TodoistTaskMap, reason: str, *, permanent: bool):
        """The task ends this run in error; a permanent one waits for the task to change."""
        self.run.failed += 1
        self.state.errors.append(reason[:200])
        mapping.sync_state = State.ERROR
        mapping.error_permanent = permanent
        mapping.last_error = reason[:2000]
        if permanent:
            mapping.next_retry_at = None
            mapping.failed_fingerprint = raw_fingerprint(task)
