"""The room left in a user's projects: Todoist caps a project's active tasks, so a create,
reopen or move takes a place in its project, or waits until a close makes one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from todoist_sync.conf import conf
from todoist_sync.models import TodoistTaskMap
from todoist_sync.services.lease import fenced
from todoist_sync.services.projects.reader import INBOX, ProjectReader, archived_reason


def full_reason(name: str) -> str:
    return f"Todoist project {name!r} is full ({conf.TODOIST_PROJECT_MAX_TASKS} active tasks)"


class ProjectRoom(ProjectReader):
    """How many more active tasks fit in each project, this round, as far as our own tasks
    tell; a full project is tried once a run in case a person made room."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.room: dict[str, int] = {}  # active tasks that still fit, per project, this round
        self.probed: set[str] = set()  # full projects tried once this run

    def count_room(self, names: Iterable[str]) -> None:
        """How many more active tasks fit in each project, as far as our own tasks tell."""
        ids = {n: self.by_name[n].pk for n in names if n in self.by_name}
        open_counts = dict(
            TodoistTaskMap.objects.filter(
                user_id=self.user_id, project_id__in=ids.values(), todoist_task_id__isnull=False
            )
            .filter(Q(pushed__done=False))
            .values_list("project_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        for name in names:
            pk = ids.get(name)
            self.room[name] = conf.TODOIST_PROJECT_MAX_TASKS - open_counts.get(pk, 0)

    def take_room(self, name: str, *, stays_open: bool = True) -> str | None:
        """Reserve room for one more active task in the project; return why not, if it is full
        or cannot be created. A task created only to be closed at once needs a free place for
        a moment, and leaves it free (`stays_open=False`)."""
        project = self.project(name)
        if project is not None and project.refused_reason:
            return project.refused_reason
        if project is not None and project.archived_at:
            return archived_reason(name)
        if project is not None and project.full_since:
            if name in self.probed:
                return full_reason(name)
            self.probed.add(name)  # one try per run finds out whether room was made
            return None
        if name == INBOX:
            return None  # the inbox's count is unknown here: Todoist's answer tells
        room = self.room.get(name, conf.TODOIST_PROJECT_MAX_TASKS)
        if room <= 0:
            return full_reason(name)
        if stays_open:
            self.room[name] = room - 1
        return None

    def mark_full(self, name: str) -> None:
        project = self.project(name)
        self.room[name] = 0
        self.probed.add(name)  # the refused create was this run's one try
        if project is not None and project.full_since is None:
            project.full_since = timezone.now()
            with fenced():
                project.save(update_fields=["full_since"])

    def mark_room(self, name: str) -> None:
        """A task left the project (closed): it has room again."""
        project = self.project(name)
        self.room[name] = self.room.get(name, 0) + 1
        self.made_room.add(name)
        if project is not None and project.full_since is not None:
            project.full_since = None
            with fenced():
                project.save(update_fields=["full_since"])

    def waiting_for_room(self) -> list[int]:
        """Local ids of the tasks waiting for a project a close made room in (one query);
        they go again in the next round."""
        names, self.made_room = self.made_room, set()
        projects = [self.by_name[n] for n in names if n in self.by_name]
        if not projects:
            return []
        waiting = TodoistTaskMap.objects.filter(project__in=projects).exclude(waiting_reason="")
        return list(waiting.values_list("local_task_id", flat=True))

    def refused(self, name: str) -> str:
        """Why nothing can go into the project now (refused, or archived), if so."""
        project = self.project(name)
        if project is not None and project.archived_at:
            return archived_reason(name)
        return project.refused_reason if project is not None else ""
