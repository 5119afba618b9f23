"""The sync's events, handed to the host through one signal.

The app keeps no event table of its own: the host connects a receiver to `sync_events` and
stores the events where its other events go (the default host's `EventLog`). Events come in
lists, one per flush of a run, so a receiver can write them in one `bulk_create`.
Callers never put a secret in `message` or `data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.dispatch import Signal

from todoist_sync.exceptions import LeaseLost

TOPIC = "sync.todoist"

# Sent with `events: list[SyncEvent]`.
sync_events = Signal()


class Level(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class SyncEvent:
    user_id: int | None
    level: Level
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    topic: str = TOPIC


def events_send(*, events: list[SyncEvent]) -> None:
    if events:
        sync_events.send(sender=SyncEvent, events=events)


def event_record(
    *, user_id: int | None, message: str, level: Level = Level.INFO, data: dict | None = None
) -> None:
    """Hand one event to the host now."""
    events_send(events=[SyncEvent(user_id, level, message, data or {})])


class EventBuffer:
    """A run's events, handed over in one list per flush (one INSERT, not one per event)."""

    def __init__(self, *, user_id: int, job_id: str) -> None:
        self.user_id = user_id
        self.job_id = job_id
        self.pending: list[SyncEvent] = []

    def add(self, level: Level, message: str, data: dict[str, Any] | None = None) -> None:
        self.pending.append(
            SyncEvent(self.user_id, level, message, {"job_id": self.job_id, **(data or {})})
        )

    def flush(self) -> None:
        """Hand the pending events over in one transaction with the run's lease check. A run
        that lost its lease hands over none: the run that took over reads the same answers
        again (the stalled run stored nothing of them) and reports them itself, once."""
        # Here, not at the top: the services import this module.
        from todoist_sync.services.lease import fenced

        events, self.pending = self.pending, []
        if not events:
            return
        try:
            with fenced():
                events_send(events=events)
        except LeaseLost:
            pass  # the run's own row says it lost the lease (`run_records.run_finish`)
