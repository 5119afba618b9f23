"""Where some mapped tasks are in Todoist now, read with as few requests as Todoist allows.

A full read lists active tasks only, and a command's "not found" proves nothing by itself: both
the reconcile and the resolver of "not found" answers ask here before deciding anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.utils import timezone

from todoist_sync.models import TodoistTaskMap
from todoist_sync.services.transport import Transport

# How far back the completed list is read (Todoist allows a window of up to 3 months).
COMPLETED_WINDOW_DAYS = 89


def tasks_locate(*, transport: Transport, mappings: Sequence[TodoistTaskMap]) -> dict[str, dict]:
    """Return, by Todoist id, each mapping's task as Todoist holds it: active (by id, 100 a
    request), else completed (`checked: true`; Todoist's completed list since the task was
    last pushed, 200 a page, read only when some are not active), else `is_deleted: true`.
    Raise TodoistError when a read fails."""
    wanted = {m.todoist_task_id for m in mappings}
    if not wanted:
        return {}
    active = transport.send(lambda: transport.client.list_tasks(ids=sorted(wanted)))
    found = {str(t["id"]): t for t in active if str(t["id"]) in wanted}
    rest = [m for m in mappings if m.todoist_task_id not in found]
    if rest:
        now = timezone.now()
        oldest = min(m.last_synced_at or m.created_at for m in rest) - timedelta(minutes=5)
        since = max(oldest, now - timedelta(days=COMPLETED_WINDOW_DAYS))
        # `until` a little ahead: the query's times are whole seconds.
        until = now + timedelta(minutes=1)
        completed = transport.send(
            lambda: transport.client.completed_tasks(since=since, until=until)
        )
        missing = {m.todoist_task_id for m in rest}
        found.update(
            {str(t["id"]): {**t, "checked": True} for t in completed if str(t["id"]) in missing}
        )
    found.update({t: {"id": t, "is_deleted": True} for t in wanted if t not in found})
    return found
