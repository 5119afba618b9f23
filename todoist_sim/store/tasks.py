"""Task and project operations of the local Todoist API simulator (the state lock is held).

`ObjectOps` is mixed into `SimState`; it uses the state's `config`, `stats`, `_new_id()` and
`_next_seq()`. Every change to a task or project goes through here, so the active-task cap and
the change sequence for incremental reads stay right.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

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
        project = self._live_project(
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
        project = self._live_project(account, project_id)
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
                is_active(task)
                and (wanted is None or task["id"] in wanted)
                and (project_id is None or task["project_id"] == project_id)
            )

        return _page(account, account.tasks.values(), limit, after, keep)


def _page(
    account: Account,
    objects: Any,
    limit: int,
    after: int,
    keep: Callable[[dict[str, Any]], bool],
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
    return Outcome(200, dumps({"results": results, "next_cursor": next_cursor}))
