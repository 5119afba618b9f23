"""Names to ids: the name in Todoist of each project a user's tasks go to, and the id a
command names it by.

A project is created in the same `/sync` request as the first tasks that go in it: a
`project_add` whose uuid is also its temp_id, committed before it leaves (as a task's create
is), so a lost answer never makes a second project.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from todoist_sync.conf import conf
from todoist_sync.exceptions import RunStop, TodoistError
from todoist_sync.models import SyncRun, TodoistProject
from todoist_sync.naming import DEFAULT_TEMPLATE, shared_project_name, template_problem
from todoist_sync.services.credentials import shared_token_user
from todoist_sync.services.lease import fenced
from todoist_sync.services.projects.reader import INBOX, ProjectReader, ProjectState
from todoist_sync.todoist import SyncResult


def project_namer(*, user_id: int, shared: bool | None = None) -> Callable[[str], str]:
    """The name in Todoist of each project the user's tasks go to: as chosen on their own
    token; on the shared token (`shared`, looked up when None) through
    TODOIST_SHARED_PROJECT_NAME, so each user's projects are their own (`todoist_sync.naming`).
    The inbox too: the shared account's inbox would be everyone's."""
    if shared is None:
        shared = shared_token_user(user_id=user_id)
    if not shared:
        return lambda name: name
    template = conf.TODOIST_SHARED_PROJECT_NAME
    if template_problem(template):
        # Reported by todoist_sync.E014; the default keeps the users apart meanwhile.
        template = DEFAULT_TEMPLATE
    user = get_user_model().objects.filter(pk=user_id).first()
    username = user.get_username() if user is not None else ""

    def name(project: str) -> str:
        return shared_project_name(template, project=project, username=username, user_id=user_id)

    return name


class ProjectNames(ProjectReader):
    """The projects a round's commands name: made known (created when missing), and named by
    their ids (a temp_id while one is created)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retried: set[str] = set()  # refused projects asked for again this run

    def prepare(self, names: Iterable[str]) -> None:
        """Make sure every project named can be referred to in this round's commands."""
        self.read_everything_once()
        for name in set(names):
            project = self.by_name.get(name)
            if project is not None and project.archived_at and name not in self.rechecked:
                self.recheck(project)
        unknown = [n for n in set(names) if n != INBOX and not self.ref(n)]
        if self.remote is None and any(n not in self.by_name for n in unknown):
            self.read_projects()
        for name in unknown:
            project = self.by_name.get(name)
            if project is None:
                # A project of that name a person made is used, not made a second time.
                found = self.unclaimed((self.remote or {}).get(name, []))
                with fenced():
                    project = TodoistProject.objects.create(
                        account=self.account, name=name, todoist_project_id=found
                    )
                self.by_name[name] = project
            retry = project.refused_reason and name not in self.retried
            if project.todoist_project_id is None and (not project.request_id or retry):
                self.retried.add(name)
                # Committed before the project_add leaves: re-sent unchanged if unconfirmed.
                # A refused one is tried again, once a run, under a fresh uuid.
                project.request_id, project.refused_reason = str(uuid.uuid4()), ""
                with fenced():
                    project.save(update_fields=["request_id", "refused_reason"])

    def recheck(self, project: TodoistProject) -> None:
        """Tasks want to go into a project a person archived: read it again (once a run) in
        case it was unarchived (or deleted) since."""
        self.rechecked.add(project.name)
        states = self.states([], whole=True, only=project)
        state = states.get(project.pk)
        with fenced():
            if state == ProjectState.DELETED:
                self.forget(project)
            elif state == ProjectState.LIVE:
                self.set_archived(project, archived=False)

    def ref(self, name: str) -> str | None:
        """The project's id for a command: its real id, or its temp_id while it is created."""
        if name == INBOX:
            return self.account.inbox_project_id or None
        project = self.by_name.get(name)
        if project is None or project.refused_reason:
            return None
        return project.todoist_project_id or project.request_id or None

    def add_commands(self) -> list[dict[str, Any]]:
        """The project_add commands the next batch must carry (first in it)."""
        return [
            {
                "type": "project_add",
                "uuid": p.request_id,
                "temp_id": p.request_id,
                "args": {"name": p.name},
            }
            for p in self.by_name.values()
            if p.request_id and not p.todoist_project_id and not p.refused_reason
        ]

    def rewrite(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Commands with the temp_ids of projects created since replaced by their real ids
        (a project keeps its creation's uuid, so commands stored before still resolve)."""
        real = {p.request_id: p.todoist_project_id for p in self.by_name.values() if p.request_id}
        out = []
        for command in commands:
            target = command["args"].get("project_id")
            if real.get(target):
                command = {**command, "args": {**command["args"], "project_id": real[target]}}
            out.append(command)
        return out

    def settle_adds(self, outcome: SyncResult) -> bool:
        """Apply the answers to project_add commands; return whether one is confirmed without
        its id (a read then finds it by name)."""
        unresolved = False
        for project in self.by_name.values():
            temp = project.request_id
            if not temp or project.todoist_project_id or temp not in outcome.sync_status:
                continue
            status = outcome.sync_status[temp]
            if status == "ok":
                real = outcome.temp_id_mapping.get(temp)
                if real:
                    project.todoist_project_id = real
                    with fenced():
                        project.save(update_fields=["todoist_project_id"])
                else:
                    unresolved = True
            else:
                reason = f"Todoist refused to create project {project.name!r}: {status.detail}"
                project.refused_reason = reason[:200]
                with fenced():
                    project.save(update_fields=["refused_reason"])
        if unresolved:
            try:
                self.read_projects()
            except TodoistError as exc:
                self.transport.stop_on(exc)
                # Without its id, later requests could not name the project: stop, and let
                # a later run find it (its uuid makes the re-sent project_add harmless).
                raise RunStop(
                    SyncRun.State.DEFERRED,
                    "a new Todoist project's id is not known yet; the rest resumes shortly",
                    timezone.now() + timedelta(seconds=conf.TODOIST_RETRY_BASE_SECONDS),
                ) from None
        return unresolved
