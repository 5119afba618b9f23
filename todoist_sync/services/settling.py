"""What Todoist's answers do to a mapping: synced, pending again, retried later, or in error.

The single place for the error policy of one task (README "Error policy"); the policy itself is
read off the error's class (`todoist_sync.exceptions`).
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone

from todoist_sync.conf import conf
from todoist_sync.events import EventBuffer, Level
from todoist_sync.exceptions import TodoistError, TodoistValidationError
from todoist_sync.models import SyncRun, TodoistTaskMap
from todoist_sync.payloads import fingerprint
from todoist_sync.services.persistence import PushItem
from todoist_sync.services.planning import Decision, raw_fingerprint, with_real_ids
from todoist_sync.task_model import LocalTask

State = TodoistTaskMap.SyncState

# The run counter each confirmed command adds to.
COUNTERS = {
    "item_add": "created",
    "item_update": "updated",
    "item_close": "closed",
    "item_uncomplete": "reopened",
}


class Settler:
    """Applies outcomes to mappings in memory; the caller writes them (one UPDATE per batch).

    `run` is the tally; tasks that still have a change to send go in `followups`.
    """

    def __init__(self, *, run: SyncRun, events: EventBuffer) -> None:
        self.run = run
        self.events = events
        self.errors: list[str] = []
        self.followups: set[int] = set()

    def settle(self, item: PushItem, statuses: list[Any], temp_ids: dict[str, str]) -> None:
        """Apply one task's command outcomes (in order; None = not attempted)."""
        mapping = item.mapping
        ok_add, missing_id, error = False, False, None
        remaining = []
        for command, status in zip(item.commands, statuses, strict=True):
            if status == "ok":
                counter = COUNTERS[command["type"]]
                setattr(self.run, counter, getattr(self.run, counter) + 1)
                if command["type"] == "item_add":
                    ok_add = True
                    real_id = temp_ids.get(command["temp_id"])
                    if real_id:
                        mapping.todoist_task_id = str(real_id)
                    elif not mapping.todoist_task_id:
                        missing_id = True
                continue
            if error is None and isinstance(status, TodoistError):
                error = status
            remaining.append(command)
        if error is None and not missing_id:
            self.mark_synced(mapping, item.achieved)
            return
        if missing_id:
            # Todoist says the create ran but gave no id: never create again blindly.
            error = TodoistValidationError(
                "Todoist accepted the create but did not return the new task's id; find the task "
                "in Todoist, or re-sync to ask again with the same request id"
            )
            remaining = item.commands
        self.settle_error(
            item.task,
            mapping,
            error,
            achieved=item.achieved,
            ok_add=ok_add,
            remaining=with_real_ids(remaining, mapping),
            keep_inflight=missing_id,
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
        keep_inflight: bool = False,
    ) -> None:
        mapping.updated_at = timezone.now()
        inflight = {"commands": remaining, "achieved": achieved} if remaining else None
        if error.stops_run:
            # Not the task's fault: it stays pending with its commands, and the run stops.
            mapping.inflight = inflight
            if mapping.sync_state != State.ERROR:
                mapping.sync_state = State.PENDING
            return
        deleted = error.task_gone and mapping.todoist_task_id and not ok_add
        if deleted and conf.TODOIST_RECREATE_DELETED:
            self.events.add(
                Level.WARNING,
                f"Task {task.id} was deleted in Todoist; it will be created again.",
                {"local_task_id": task.id, "todoist_task_id": mapping.todoist_task_id},
            )
            mapping.todoist_task_id, mapping.pushed, mapping.pushed_fingerprint = None, None, ""
            mapping.inflight, mapping.request_id = None, str(uuid.uuid4())
            mapping.sync_state, mapping.attempts = State.PENDING, 0
            self.followups.add(task.id)
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
        elif deleted:
            mapping.inflight = None
            reason = "deleted in Todoist (or completed there): not found"
            self._fail(task, mapping, reason, permanent=True)
        else:
            # Validation and anything Todoist refuses for this task: permanent until it changes.
            mapping.inflight = inflight if keep_inflight else None
            if ok_add and not keep_inflight:
                # The create went through; only what followed failed. Never create again.
                done_part = {**achieved, "done": False}
                mapping.pushed, mapping.pushed_fingerprint = done_part, fingerprint(done_part)
            argument = getattr(error, "argument", None)
            reason = f"validation: {argument + ': ' if argument else ''}{error.detail}"
            self._fail(task, mapping, reason, permanent=True)
        self._report(task, mapping, mapping.last_error, error=error)

    def fail_invalid(self, decision: Decision, *, user_id: int) -> None:
        """A task Todoist would refuse, caught before sending: permanent until it changes."""
        task, error = decision.task, decision.error
        if decision.mapping is None:
            decision.mapping = TodoistTaskMap.objects.create(
                user_id=user_id, local_task_id=task.id, request_id=str(uuid.uuid4())
            )
        mapping = decision.mapping
        mapping.updated_at = timezone.now()
        self._fail(task, mapping, f"validation: {error}", permanent=True)
        self.events.add(
            Level.ERROR,
            f"Task {task.id} not synced: {mapping.last_error}",
            {"local_task_id": task.id, "field": error.field, "permanent": True},
        )

    @staticmethod
    def mark_synced(mapping: TodoistTaskMap, achieved: dict[str, Any]) -> None:
        now = timezone.now()
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
        self.errors.append(reason[:200])
        mapping.sync_state = State.ERROR
        mapping.error_permanent = permanent
        mapping.last_error = reason[:2000]
        if permanent:
            mapping.next_retry_at = None
            mapping.failed_fingerprint = raw_fingerprint(task)

    def _report(
        self, task: LocalTask, mapping: TodoistTaskMap, reason: str, *, error: TodoistError
    ) -> None:
        self.events.add(
            Level.ERROR,
            f"Task {task.id} not synced: {reason}",
            {
                "local_task_id": task.id,
                "todoist_task_id": mapping.todoist_task_id,
                "error": type(error).__name__,
                "status": error.status,
                "error_tag": error.error_tag,
                "attempts": mapping.attempts,
                "next_retry_at": mapping.next_retry_at.isoformat()
                if mapping.next_retry_at
                else None,
                "permanent": mapping.error_permanent,
            },
        )
