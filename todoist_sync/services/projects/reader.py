"""Reading a user's Todoist projects: the account's first whole read, their ids, the inbox,
and which a person archived or deleted there (a deleted one is forgotten, to be created again
with its tasks, once a run).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import cached_property
from typing import Any

from django.db.models import Q
from django.utils import timezone

from todoist_sync.events import EventBuffer, Level
from todoist_sync.exceptions import TodoistError
from todoist_sync.models import TodoistAccount, TodoistProject, TodoistTaskMap
from todoist_sync.services.lease import fenced
from todoist_sync.services.persistence import mappings_reset
from todoist_sync.services.transport import Transport

INBOX = "Inbox"
RESOURCES = ["items", "projects", "user"]


def archived_reason(name: str) -> str:
    return f"Todoist project {name!r} is archived"


class ProjectState(StrEnum):
    """What Todoist says of one of our projects."""

    LIVE = "live"
    ARCHIVED = "archived"  # by a person: never made again, never unarchived by us
    DELETED = "deleted"  # made again, with its tasks (once a run)


class ProjectReader:
    """What Todoist says of a user's projects in one Todoist account: their ids, the inbox,
    and which a person archived or deleted there. Every write is fenced (`lease.fenced`): a run
    that lost its lease stores no project, id or sync token."""

    def __init__(
        self, *, user_id: int, account_key: str, transport: Transport, events: EventBuffer
    ) -> None:
        self.user_id = user_id
        self.account_key = account_key
        self.transport = transport
        self.events = events
        self.recreated: set[str] = set()  # projects created again this run (at most once)
        self.forgotten: set[int] = set()  # projects found deleted in Todoist this run
        self.reset_ids: list[int] = []  # their tasks, to create again
        self.remote: dict[str, list[str]] | None = None  # live project ids by name, once read
        self.rechecked: set[str] = set()  # archived projects read again this run
        # Projects with room again this round (a close, or unarchived): their tasks go again.
        self.made_room: set[str] = set()

    @cached_property
    def account(self) -> TodoistAccount:
        """Loaded when first needed: a run with nothing to create costs no query for it."""
        account = TodoistAccount.objects.filter(user_id=self.user_id, key=self.account_key).first()
        if account is None:
            with fenced():
                account, _ = TodoistAccount.objects.get_or_create(
                    user_id=self.user_id, key=self.account_key
                )
        return account

    @cached_property
    def by_name(self) -> dict[str, TodoistProject]:
        return {p.name: p for p in self.account.projects.all()}

    # -- reads -------------------------------------------------------------------------------------

    def read_everything_once(self) -> None:
        """The first run in an account reads it whole (`"*"`), once: where incremental reads
        start from, the inbox, and projects a person made. Later runs read increments only."""
        account = self.account
        if account.items_sync_token and account.projects_sync_token:
            return
        result = self.transport.send(
            lambda: self.transport.client.sync(sync_token="*", resource_types=RESOURCES),
            full=True,
        )
        states = self.states(result.projects, whole=True)
        with fenced():
            account.items_sync_token = account.projects_sync_token = result.sync_token
            self.adopt(result.projects, whole=True, states=states)
            if result.user and not account.todoist_user_id:
                account.todoist_user_id = str(result.user["id"])
            account.save(
                update_fields=[
                    "items_sync_token",
                    "projects_sync_token",
                    "inbox_project_id",
                    "todoist_user_id",
                ]
            )
        if account.todoist_user_id:
            self.transport.identified(account.todoist_user_id)

    def identify(self) -> None:
        """Learn whose Todoist account the token opens (the account's first read tells it;
        otherwise one read of the `user` alone). A failure leaves it unknown for now."""
        try:
            if not (self.account.items_sync_token and self.account.projects_sync_token):
                self.read_everything_once()
                return
            result = self.transport.send(
                lambda: self.transport.client.sync(sync_token="*", resource_types=["user"]),
                full=True,
            )
        except TodoistError as exc:
            self.transport.stop_on(exc)
            return
        if result.user:
            self.account.todoist_user_id = str(result.user["id"])
            with fenced():
                self.account.save(update_fields=["todoist_user_id"])
            self.transport.identified(self.account.todoist_user_id)

    def read_projects(self) -> None:
        """Every project, read again (projects are few): a name not seen before may be a
        project a person made long ago, which no increment would show."""
        result = self.transport.send(
            lambda: self.transport.client.sync(sync_token="*", resource_types=["projects"]),
            full=True,
        )
        self.observe(result.projects, sync_token=result.sync_token)

    def observe(self, projects: list[dict[str, Any]], *, sync_token: str | None) -> None:
        """Every project, as a full read listed them (with the sync token it came with)."""
        states = self.states(projects, whole=True)
        with fenced():
            if sync_token:
                self.account.projects_sync_token = sync_token
            self.adopt(projects, whole=True, states=states)
            self.account.save(update_fields=["projects_sync_token", "inbox_project_id"])

    def states(
        self,
        projects: list[dict[str, Any]],
        *,
        whole: bool,
        only: TodoistProject | None = None,
    ) -> dict[int, ProjectState]:
        """What an answer says of each of our projects. A full read leaves out archived and
        deleted projects alike (and Todoist may refuse an add into either with the same error):
        each of ours it left out is read (`GET /projects/{id}`) to tell which."""
        listed = {str(p["id"]): p for p in projects if p.get("id") is not None}
        states: dict[int, ProjectState] = {}
        for project in [only] if only is not None else list(self.by_name.values()):
            pid = project.todoist_project_id
            if pid is None:
                continue
            remote = listed.get(pid)
            if remote is None and whole:
                try:
                    remote = self.transport.send(
                        lambda pid=pid: self.transport.client.get_project(pid)
                    )
                except TodoistError as exc:
                    if not exc.task_gone:
                        raise
                    remote = {"id": pid, "is_deleted": True}
            if remote is None:
                continue
            if remote.get("is_deleted"):
                states[project.pk] = ProjectState.DELETED
            elif remote.get("is_archived"):
                states[project.pk] = ProjectState.ARCHIVED
            else:
                states[project.pk] = ProjectState.LIVE
        return states

    def adopt(
        self,
        projects: Iterable[dict[str, Any]],
        *,
        whole: bool = False,
        states: dict[int, ProjectState] | None = None,
    ) -> None:
        """Take the ids of our projects from Todoist's answer; note the ones a person archived
        or unarchived (`states`); forget the ones deleted there. Inside the caller's
        `fenced()`, with the sync token that answer came with."""
        live: dict[str, list[str]] = {}
        for remote in projects:
            if remote.get("inbox_project"):
                self.account.inbox_project_id = str(remote["id"])
            gone = remote.get("is_deleted") or remote.get("is_archived")
            if not gone and not remote.get("inbox_project"):
                live.setdefault(str(remote.get("name")), []).append(str(remote["id"]))
        if whole:
            self.remote = live
        states = states or {}
        for name, project in self.by_name.items():
            state = states.get(project.pk)
            if project.todoist_project_id is None:
                found = self.unclaimed(live.get(name, []))
                if found:
                    project.todoist_project_id = found
                    project.save(update_fields=["todoist_project_id"])
            elif state == ProjectState.DELETED:
                self.forget(project)
            elif (state == ProjectState.ARCHIVED) != (project.archived_at is not None):
                self.set_archived(project, archived=state == ProjectState.ARCHIVED)

    def set_archived(self, project: TodoistProject, *, archived: bool) -> None:
        """A person archived the project (its tasks wait, mapped ones are left alone) or
        unarchived it (the waiting ones go)."""
        project.archived_at = timezone.now() if archived else None
        project.save(update_fields=["archived_at"])
        if archived:
            self.events.add(
                Level.WARNING,
                f"{archived_reason(project.name)} in Todoist: its new tasks wait until it is "
                "unarchived there (or the chat is given another project).",
                {"project": project.name},
            )
        else:
            self.made_room.add(project.name)  # the tasks waiting for it go again

    def archived_pks(self) -> set[int]:
        return {p.pk for p in self.by_name.values() if p.archived_at is not None}

    def unclaimed(self, ids: list[str]) -> str | None:
        """The first of these projects (of one name) that no other user's project points at in
        this Todoist account: users of one token (the shared one) never share a project, so
        none can fill another's, whatever the names. One query, and only when adopting."""
        if not ids:
            return None
        same_account = Q(account__key=self.account_key)
        if self.account.todoist_user_id:
            same_account |= Q(account__todoist_user_id=self.account.todoist_user_id)
        taken = set(
            TodoistProject.objects.filter(same_account, todoist_project_id__in=ids)
            .exclude(account__user_id=self.user_id)
            .values_list("todoist_project_id", flat=True)
        )
        return next((pid for pid in ids if pid not in taken), None)

    def project(self, name: str) -> TodoistProject | None:
        if name == INBOX:
            return None
        return self.by_name.get(name)

    # -- deleted in Todoist --------------------------------------------------------------------

    def forgot(self, project_pk: int | None) -> bool:
        """Whether this run found that project deleted in Todoist."""
        return project_pk is not None and project_pk in self.forgotten

    def take_reset(self) -> list[int]:
        """Local ids of the tasks of projects forgotten since the last call."""
        ids, self.reset_ids = self.reset_ids, []
        return ids

    def check_deleted(self) -> None:
        """Some tasks or projects were not found: if a project was deleted, that is why (one
        read of all projects, which also finds the ids of projects being created)."""
        try:
            self.read_projects()
        except TodoistError as exc:
            self.transport.stop_on(exc)  # otherwise: not known now; the next run reads again

    def forget(self, project: TodoistProject) -> list[int]:
        """The project was deleted in Todoist (and its tasks with it): create it, and its tasks,
        again (once a run). Return the local ids of its tasks, all pending again."""
        if project.name in self.recreated:
            return []
        self.recreated.add(project.name)
        self.forgotten.add(project.pk)
        mappings = TodoistTaskMap.objects.filter(project=project)
        task_ids = list(mappings.values_list("local_task_id", flat=True))
        self.reset_ids.extend(task_ids)
        with fenced():
            mappings_reset(mappings)
            project.todoist_project_id, project.request_id, project.full_since = None, "", None
            project.save(update_fields=["todoist_project_id", "request_id", "full_since"])
        self.events.add(
            Level.WARNING,
            f"Todoist project {project.name!r} was deleted in Todoist; it and its "
            f"{len(task_ids)} task(s) will be created again.",
            {"project": project.name},
        )
        return task_ids
