"""The host's task model, named by a setting, and the fields the sync reads from it.

As `django.contrib.auth` finds the user model through `AUTH_USER_MODEL` and reads its
`USERNAME_FIELD`, this app finds the task model through `TODOIST_SYNC_TASK_MODEL` and reads a
`TodoistSync` class declared on it, next to the fields it names:

    class Task(models.Model):
        ...

        class TodoistSync:
            owner = "user"                 # ForeignKey to AUTH_USER_MODEL (required)
            chat = "chat_id"               # optional scope of a sync (None: no chats)
            title = "title"                # Todoist content
            description = "description"    # None: no description
            status = "status"
            statuses = {"open": "open", "blocked": "blocked", "done": "done"}
            priority = "priority"          # None: every task is Todoist's normal priority
            priorities = {1: 1, 2: 2, 3: 3, 4: 4}  # local value -> p1..p4 (p1 most urgent)
            due_date = "due_date"          # a DateField, or None
            archived = "archived"          # a BooleanField, or None: archived tasks are closed

Why a class on the model rather than a dict in settings: the names live beside the fields they
name (a rename touches one file), the contract travels with the model into any project, and it
reads like `Meta`. Every attribute has the default shown, so a model with these names and values
needs no declaration at all. `todoist_sync.E010` checks the declaration at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from typing import Any

from django.apps import apps as django_apps
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from todoist_sync.conf import conf


class SyncStatus(StrEnum):
    """What the sync knows a task to be; a host status maps onto one of these."""

    OPEN = "open"
    BLOCKED = "blocked"
    DONE = "done"


def get_task_model() -> type[Model]:
    """Return the task model that is active in this project."""
    try:
        return django_apps.get_model(conf.TODOIST_SYNC_TASK_MODEL, require_ready=False)
    except ValueError:
        raise ImproperlyConfigured(
            "TODOIST_SYNC_TASK_MODEL must be of the form 'app_label.model_name'"
        ) from None
    except LookupError:
        raise ImproperlyConfigured(
            f"TODOIST_SYNC_TASK_MODEL refers to model {conf.TODOIST_SYNC_TASK_MODEL!r} that has "
            "not been installed"
        ) from None


@dataclass(frozen=True)
class LocalTask:
    """One task as the sync sees it, whatever the host calls its fields."""

    id: int
    owner_id: int
    chat_id: int | None
    title: Any
    description: Any
    status: SyncStatus | None  # None: a status the contract does not map (skipped, logged)
    raw_status: Any
    priority: int | None  # p1..p4 (1 most urgent); None: a value the contract does not map
    raw_priority: Any
    due_date: date | None
    archived: bool


@dataclass(frozen=True)
class TaskContract:
    owner: str = "user"
    chat: str | None = "chat_id"
    title: str = "title"
    description: str | None = "description"
    status: str = "status"
    statuses: Mapping[Any, str] | None = None
    priority: str | None = "priority"
    priorities: Mapping[Any, int] | None = None
    due_date: str | None = "due_date"
    archived: str | None = "archived"

    @classmethod
    def of(cls, model: type[Model]) -> TaskContract:
        declared = getattr(model, "TodoistSync", None)
        names = {
            name: getattr(declared, name)
            for name in cls.__dataclass_fields__
            if declared is not None and hasattr(declared, name)
        }
        return cls(**names)

    @property
    def owner_attname(self) -> str:
        return f"{self.owner}_id"

    @property
    def status_map(self) -> dict[Any, SyncStatus]:
        statuses = self.statuses or {status.value: status.value for status in SyncStatus}
        return {key: SyncStatus(value) for key, value in statuses.items()}

    @property
    def priority_map(self) -> dict[Any, int]:
        return dict(self.priorities or {1: 1, 2: 2, 3: 3, 4: 4})

    def field_names(self) -> list[str]:
        """The model fields a run reads (for `.only()`)."""
        names = [self.owner, self.chat, self.title, self.description, self.status]
        names += [self.priority, self.due_date, self.archived]
        return ["id", *(name for name in names if name)]

    def mark_done(self, task_ids: Iterable[int]) -> int:
        """The one write the sync makes to host tasks (TODOIST_DONE_IN_TODOIST=adopt): these
        become done, in the first host status that maps to done. A queryset update, without
        the model's save() or signals: the change came from Todoist and queues no sync."""
        done = next(key for key, value in self.status_map.items() if value == SyncStatus.DONE)
        tasks = get_task_model().objects.filter(pk__in=list(task_ids))
        return tasks.exclude(**{self.status: done}).update(**{self.status: done})

    def read(self, task: Model) -> LocalTask:
        raw_status = getattr(task, self.status)
        raw_priority = getattr(task, self.priority) if self.priority else None
        priority = self.priority_map.get(raw_priority) if self.priority else 4
        return LocalTask(
            id=task.pk,
            owner_id=getattr(task, self.owner_attname),
            chat_id=getattr(task, self.chat) if self.chat else None,
            title=getattr(task, self.title),
            description=getattr(task, self.description) if self.description else "",
            status=_status_of(self.status_map, raw_status),
            raw_status=raw_status,
            priority=priority,
            raw_priority=raw_priority,
            due_date=getattr(task, self.due_date) if self.due_date else None,
            archived=bool(getattr(task, self.archived)) if self.archived else False,
        )


def _status_of(mapping: dict[Any, SyncStatus], raw: Any) -> SyncStatus | None:
    try:
        return mapping.get(raw)
    except TypeError:  # an unhashable value is no status we know
        return None


@cache
def _contract_of(model: type[Model]) -> TaskContract:
    return TaskContract.of(model)


def task_contract() -> TaskContract:
    """The field contract of the active task model (cached per model)."""
    return _contract_of(get_task_model())
