"""Task and project operations of the local Todoist API simulator (the state lock is held).

`ObjectOps` is mixed into `SimState`; it uses the state's `config`, `stats`, `_new_id()` and
`_next_seq()`. Every change to a task or project goes through here, so the active-task cap and
the change sequence for incremental reads stay right.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from todoist_sim.store.dues import add_months
from todoist_sim.store.dues import next_occurrence as next_due
from todoist_sim.store.errors import (
    ApiError,
    invalid,
    not_found,
    project_full,
    project_not_found,
)
from todoist_sim.store.model import (
    Account,
    Outcome,
    dumps,
    encode_cursor,
    is_active,
    new_project,
    new_task,
    now_iso,
    page_params,
)

if TYPE_CHECKING:
    from todoist_sim.config import SimConfig


class ObjectOps:
    config: SimConfig
    stats: dict[str, Any]

    def _new_id(self) -> str:
        raise NotImplementedError

    def _next_seq(self) -> int:
        raise NotImplementedError

    # ----- projects ------------------------------------------------------------

    def _create_project(
        self,
        account: Account,
        fields: Mapping[str, Any],
        *,
        project_id: str | None = None,
        inbox: bool = False,
    ) -> dict[str, Any]:
        project_id = project_id or self._new_id()
        order = sum(1 for p in account.projects.values() if not p["is_deleted"])
        project = new_project(project_id, account, fields, order, inbox=inbox)
        account.projects[project_id] = project
        account.seq[project_id] = self._next_seq()
        account.touch("projects", project_id)
        self.stats["projects_created"] += 1
        return project

    @staticmethod
    def _live_project(account: Account, project_id: Any) -> dict[str, Any]:
        project = account.projects.get(project_id) if isinstance(project_id, str) else None
        if project is None or project["is_deleted"]:
            raise project_not_found()
        return project

    @classmethod
    def _open_project(cls, account: Account, project_id: Any) -> dict[str, Any]:
        """A project tasks may be added or moved into. An archived one is refused exactly as
        a deleted or unknown one (undocumented: the worst case; reading it tells them apart)."""
        project = cls._live_project(account, project_id)
        if project["is_archived"]:
            raise project_not_found()
        return project

    def _archive_project(self, account: Account, project_id: Any, archived: bool) -> dict[str, Any]:
        """Archive or unarchive a project. Only the project shows as changed in incremental
        reads; its tasks leave (or rejoin) the active lists and full reads with it."""
        project = self._live_project(account, project_id)
        if project["inbox_project"]:
            raise invalid("id", "the Inbox project cannot be archived")
        if project["is_archived"] != archived:
            project["is_archived"] = archived
            project["updated_at"] = now_iso()
            account.touch("projects", project["id"])
        return project

    @staticmethod
    def _visible(account: Account, task: dict[str, Any]) -> bool:
        """Listed as active: open, not deleted, and not in an archived project."""
        return is_active(task) and not account.projects[task["project_id"]]["is_archived"]

    def _delete_project(self, account: Account, project_id: Any) -> int:
        """Delete a project and its tasks (as Todoist does); answer how many tasks went."""
        project = self._live_project(account, project_id)
        if project["inbox_project"]:
            raise invalid("id", "the Inbox project cannot be deleted")
        project["is_deleted"] = True
        project["updated_at"] = now_iso()
        account.touch("projects", project["id"])
        deleted = 0
        for task in account.tasks.values():
            if task["project_id"] == project["id"] and not task["is_deleted"]:
                self._delete_task(account, task)
                deleted += 1
        return deleted

    def _list_projects(self, account: Account, query: str) -> Outcome:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        limit, after = page_params(params)
        return _page(
            account,
            account.projects.values(),
            limit,
            after,
            lambda p: not p["is_deleted"] and not p["is_archived"],
        )

    # ----- tasks ---------------------------------------------------------------

    def _check_room(self, account: Account, project_id: str) -> None:
        """Refuse a task becoming active in a project that holds the cap of active tasks."""
        cap = self.config.project_task_cap
        if cap is None:
            return
        if len(account.active.get(project_id, ())) >= cap:
            self.stats["refused_project_full"] += 1
            raise project_full(cap)

    def _create(
        self, account: Account, changes: Mapping[str, Any], project_id: Any = None
    ) -> dict[str, Any]:
        project = self._open_project(
            account, account.inbox_id if project_id is None else project_id
        )
        self._check_room(account, project["id"])
        task_id = self._new_id()
        order = account.orders.get(project["id"], 1)
        account.orders[project["id"]] = order + 1
        task = new_task(task_id, account, project["id"], changes, order)
        account.tasks[task_id] = task
        account.index(task)
        account.seq[task_id] = self._next_seq()
        account.touch("items", task_id)
        self.stats["tasks_created"] += 1
        return task

    @staticmethod
    def _live_task(
        account: Account, task_id: Any, missing: Callable[[], ApiError] = not_found
    ) -> dict[str, Any]:
        task = account.tasks.get(task_id) if isinstance(task_id, str) else None
        if task is None or task["is_deleted"]:
            raise missing()
        return task

    @staticmethod
    def _apply(account: Account, task: dict[str, Any], changes: Mapping[str, Any]) -> None:
        if changes:
            task.update(changes)
            task["updated_at"] = now_iso()
            account.touch("items", task["id"])

    def _close(self, account: Account, task: dict[str, Any]) -> None:
        """item_close: an open recurring task moves to its next occurrence and stays open (v1
        "Close task"); any other task is completed."""
        due = task["due"]
        if due is not None and due["is_recurring"] and not task["checked"]:
            task["due"] = next_due(due)
            task["updated_at"] = now_iso()
            account.touch("items", task["id"])
        else:
            self._set_checked(account, task, True)

    def _set_checked(self, account: Account, task: dict[str, Any], checked: bool) -> None:
        if task["checked"] == checked:
            return
        if not checked:
            self._check_room(account, task["project_id"])
        now = now_iso()
        task["checked"] = checked
        task["completed_at"] = now if checked else None
        task["updated_at"] = now
        account.index(task)
        account.touch("items", task["id"])

    @staticmethod
    def _delete_task(account: Account, task: dict[str, Any]) -> None:
        task["is_deleted"] = True
        task["updated_at"] = now_iso()
        account.index(task)
        account.touch("items", task["id"])

    def _move(self, account: Account, task: dict[str, Any], project_id: Any) -> None:
        project = self._open_project(account, project_id)
        if project["id"] == task["project_id"]:
            return
        if is_active(task):
            self._check_room(account, project["id"])
        order = account.orders.get(project["id"], 1)
        account.orders[project["id"]] = order + 1
        old_project = task["project_id"]
        task["project_id"] = project["id"]
        task["child_order"] = order
        task["updated_at"] = now_iso()
        account.index(task, old_project=old_project)
        account.touch("items", task["id"])

    def _list_tasks(self, account: Account, query: str) -> Outcome:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        limit, after = page_params(params)
        wanted: set[str] | None = None
        if params.get("ids"):
            wanted = {part.strip() for part in params["ids"].split(",") if part.strip()}
        project_id = params.get("project_id") or None
        if project_id is not None:
            self._live_project(account, project_id)

        def keep(task: dict[str, Any]) -> bool:
            return (
                self._visible(account, task)
                and (wanted is None or task["id"] in wanted)
                and (project_id is None or task["project_id"] == project_id)
            )

        return _page(account, account.tasks.values(), limit, after, keep)

    def _list_completed(self, account: Account, query: str) -> Outcome:
        """GET /tasks/completed/by_completion_date: tasks completed (and still so) between
        `since` and `until` (both required, at most 3 months apart), paged by cursor.
        A recurring task's closed occurrences are not listed: it never stops being open."""
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        limit, after = page_params(params)
        since, until = (_instant(params.get(name), name) for name in ("since", "until"))
        if until < since:
            raise invalid("until", "must not be before since")
        if until > _months_later(since, 3):
            raise invalid("until", "the window is at most 3 months")

        def keep(task: dict[str, Any]) -> bool:
            if not task["checked"] or task["is_deleted"] or task["completed_at"] is None:
                return False
            return since <= _instant(task["completed_at"], "completed_at") <= until

        return _page(account, account.tasks.values(), limit, after, keep, key="items")


def _instant(value: str | None, argument: str) -> datetime:
    """A query's `YYYY-MM-DDTHH:MM:SS[.ffffff][Z]` (naive means UTC, as the SDK sends it)."""
    if not value:
        raise invalid(argument, "is required")
    try:
        parsed = datetime.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        raise invalid(argument, "expected a time formatted YYYY-MM-DDTHH:MM:SSZ") from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return parsed.replace(tzinfo=UTC)


def _months_later(moment: datetime, months: int) -> datetime:
    day = add_months(moment.date(), months)
    return datetime.combine(day, moment.timetz())


def _page(
    account: Account,
    objects: Any,
    limit: int,
    after: int,
    keep: Callable[[dict[str, Any]], bool],
    *,
    key: str = "results",
) -> Outcome:
    results: list[dict[str, Any]] = []
    next_cursor = None
    for obj in objects:
        if account.seq[obj["id"]] <= after or not keep(obj):
            continue
        if len(results) == limit:
            # Only hand out a cursor when another page really exists.
            next_cursor = encode_cursor(account.seq[results[-1]["id"]])
            break
        results.append(obj)
    return Outcome(200, dumps({key: results, "next_cursor": next_cursor}))
