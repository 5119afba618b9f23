"""What one round of a run accumulates, in one object the engine creates and hands to each role.

The command builder, the pushers, the error policy, the unconfirmed-create reads and the
reconcile record into it; the engine reads it to write what was settled without a request, to
read what Todoist left unconfirmed, and to pick the tasks of the next round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from todoist_sync.models import TodoistTaskMap
from todoist_sync.services.persistence import PushItem


@dataclass
class RoundState:
    # Tasks with a change left (a label after a reopen, a re-create): the next round's scope.
    followups: set[int] = field(default_factory=set)
    # Creates Todoist confirmed without their id: found by a read, never made again.
    unconfirmed: list[PushItem] = field(default_factory=list)
    # Tasks a command found missing: gone only if a read says so.
    unverified: list[PushItem] = field(default_factory=list)
    # Mappings settled without a request (waiting for room, unreadable, nothing to send):
    # the engine writes them once the round's push is over.
    settled: list[TodoistTaskMap] = field(default_factory=list)
    # Why tasks failed this round, for the run's summary.
    errors: list[str] = field(default_factory=list)
