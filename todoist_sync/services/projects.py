"""The Todoist projects a run puts tasks in: found by name, created when missing, watched for
the 300-task cap, created again when deleted in Todoist.

A project is created in the same `/sync` request as the first tasks that go in it: a
`project_add` whose uuid is also its temp_id, committed before it leaves (as a task's create
is), so a lost answer never makes a second project.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.utils import timezone

from todoist_sync.conf import conf
from todoist_sync.events import EventBuffer, Level
from todoist_sync.exceptions import TodoistError
from todoist_sync.models import SyncRun, TodoistAccount, TodoistProject, TodoistTaskMap
from todoist_sync.naming import DEFAULT_TEMPLATE, shared_project_name, template_problem
from todoist_sync.services.coordination import fenced
from todoist_sync.services.credentials import shared_token_user
from todoist_sync.services.persistence import mappings_reset
from todoist_sync.services.transport import RunStop, Transport
from todoist_sync.todoist import SyncResult

INBOX = "Inbox"
RESOURCES = ["items", "projects", "user"]


def full_reason(name: str) -> str:
    return f"Todoist project {name!r} is full ({conf.TODOIST_PROJECT_MAX_TASKS} active tasks)"


def archived_reason(name: str) -> str:
    return f"Todoist project {name!r} is archived"


class ProjectState(StrEnum):
    """What Todoist says of one of our projects."""

    LIVE = "live"
    ARCHIVED = "archived"  # by a person: never made again, never unarchived by us
    DELETED = "deleted"  # made again, with its tasks (once a run)


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


class ProjectDirectory:
    """One run's view of a user's projects in one Todoist account. Every write is fenced
    (`coordination.fenced`): a run that lost its lease stores no project, id or sync token."""

    def __init__(
        self, *, user_id: int, account_key: str, transport: Transport, events: EventBuffer
    ) -> None:
        self.user_id = user_id
        self.account_key = account_key
        self.transport = transport
        self.events = events
        self.room: dict[str, int] = {}  # active tasks that still fit, per project, this round
        self.probed: set[str] = set()  # full projects tried once this run
        self.recreated: set[str] = set()  # projects created again this run (at most once)
        self.retried: set[str] = set()  # refused projects asked for again this run
        self.forgotten: set[int] = set()  # projects found deleted in Todoist this run
        self.reset_ids: list[int] = []  # their tasks, to create again
        self.made_room: set[str] = set()  # projects a close left room in, this round
        self.remote: dict[str, list[str]] | None = None  # live project ids by name, once read
        self.rechecked: set[str] = set()  # archived projects read again this run

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

    # -- names to ids --------------------------------------------------------------------------

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

    def project(self, name: str) -> TodoistProject | None:
        if name == INBOX:
            return None
        return self.by_name.get(name)

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
        """Apply the answers to project_add commands; answers whether one is confirmed without
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

    # -- the cap -------------------------------------------------------------------------------

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
        """Reserve room for one more active task in the project; answers why not, if it is full
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

    # -- deleted in Todoist --------------------------------------------------------------------

    def refused(self, name: str) -> str:
        """Why nothing can go into the project now (refused, or archived), if so."""
        project = self.project(name)
        if project is not None and project.archived_at:
            return archived_reason(name)
        return project.refused_reason if project is not None else ""

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
        again (once a run). Answers the local ids of its tasks, all pending again."""
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
