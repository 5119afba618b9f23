"""The Todoist projects a run puts tasks in, by job: reading what Todoist holds of them
(`reader`), naming them by their ids and creating the missing ones (`names`), and counting
the room left in them (`room`). `ProjectDirectory` is the one object a run passes around.
"""

from __future__ import annotations

from todoist_sync.services.projects.names import ProjectNames, project_namer
from todoist_sync.services.projects.reader import (
    INBOX,
    ProjectReader,
    ProjectState,
    archived_reason,
)
from todoist_sync.services.projects.room import ProjectRoom, full_reason

__all__ = [
    "INBOX",
    "ProjectDirectory",
    "ProjectNames",
    "ProjectReader",
    "ProjectRoom",
    "ProjectState",
    "archived_reason",
    "full_reason",
    "project_namer",
]


class ProjectDirectory(ProjectNames, ProjectRoom):
    """One run's view of a user's projects in one Todoist account: the three jobs on one
    object, since a round's roles each use more than one of them."""
