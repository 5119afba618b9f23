"""The receiver of todoist_sync's `sync_events`: one INSERT per list of events."""

from __future__ import annotations

from typing import Any

from todoist_sync.events import SyncEvent


def sync_events_store(sender: Any, *, events: list[SyncEvent], **kwargs: Any) -> None:
    from tests.reuse.todo.models import TodoEvent

    TodoEvent.objects.bulk_create(
        TodoEvent(
            user_id=event.user_id,
            level=event.level,
            topic=event.topic,
            message=event.message,
            data=event.data,
        )
        for event in events
    )
