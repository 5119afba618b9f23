"""Writes of the planner app: tasks and the event log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from planner.models import EventLog, Task


def event_log(
    *,
    topic: str,
    message: str,
    level: str = EventLog.Level.INFO,
    user: AbstractBaseUser | None = None,
    user_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> EventLog:
    """Record one event. Callers must never put a secret in `message` or `data`."""
    return EventLog.objects.create(
        topic=topic,
        message=message,
        level=level,
        user=user,
        user_id=user_id if user is None else user.pk,
        data=data or {},
    )


def sync_events_record(*, events: list, **kwargs: Any) -> None:
    """Receiver of `todoist_sync.events.sync_events`: a run's events in one INSERT."""
    EventLog.objects.bulk_create(
        [
            EventLog(
                user_id=e.user_id, level=e.level, topic=e.topic, message=e.message, data=e.data
            )
            for e in events
        ],
        batch_size=500,
    )


def task_archive(*, task: Task) -> Task:
    """Archive instead of deleting: the sync and the history keep their reference."""
    if not task.archived:
        task.archived = True
        task.save(update_fields=["archived", "updated_at"])
    return task
