"""Acting as a person in the Todoist app, for tests: changes that do not come through the API.

Each call takes the state lock, changes one account's data exactly as the API would (the
active-task cap applies, incremental reads see the change) and counts in `person_edits`, not in
the request stats. Errors are `ApiError`s (404 unknown task/project, 400 bad field, 403 full
project); an unknown account is a KeyError.
"""

from __future__ import annotations

import threading
from typing import Any

from todoist_sim.store.errors import invalid
from todoist_sim.store.fields import person_fields, project_fields, sync_fields
from todoist_sim.store.model import Account, copy_project, copy_task
from todoist_sim.store.sync import SyncOps

PERSON_ACTIONS = ("update", "complete", "complete_forever", "reopen", "delete", "move")


class PersonOps(SyncOps):
    lock: threading.Lock

    def find_account(self, account_or_token: str) -> Account:
        raise NotImplementedError

    def person_task(
        self, account_or_token: str, task_id: str, action: str = "update", **fields: Any
    ) -> dict[str, Any]:
        """Edit (content, description, priority, due, labels), complete, reopen, delete or
        move (project_id=...) one task; answer the task afterwards (a copy).

        "complete" is ticking the task in the app: a recurring task moves to its next date and
        stays open (as item_close); "complete_forever" completes any task (as item_complete)."""
        if action not in PERSON_ACTIONS:
            raise invalid("action", f"expected one of {', '.join(PERSON_ACTIONS)}")
        with self.lock:
            account = self.find_account(account_or_token)
            task = self._live_task(account, task_id)
            if action == "update":
                self._apply(account, task, person_fields(fields))
            elif action == "move":
                extra = sorted(set(fields) - {"project_id"})
                if extra or "project_id" not in fields:
                    raise invalid(extra[0] if extra else "project_id", "move takes project_id")
                self._move(account, task, fields["project_id"])
            else:
                if fields:
                    raise invalid(sorted(fields)[0], f"{action} takes no fields")
                if action == "delete":
                    self._delete_task(account, task)
                elif action == "complete":
                    self._close(account, task)
                else:
                    self._set_checked(account, task, action == "complete_forever")
            self.stats["person_edits"] += 1
            return copy_task(task)

    def person_add_task(
        self, account_or_token: str, content: str, project_id: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Add a task as a person would (default: the Inbox); answer it (a copy)."""
        with self.lock:
            account = self.find_account(account_or_token)
            changes = {**person_fields(fields), **sync_fields({"content": content}, True)}
            task = self._create(account, changes, project_id)
            self.stats["person_edits"] += 1
            return copy_task(task)

    def person_add_project(self, account_or_token: str, name: str, **fields: Any) -> dict[str, Any]:
        """Create a project as a person would; answer it (a copy)."""
        with self.lock:
            account = self.find_account(account_or_token)
            project = self._create_project(account, project_fields({**fields, "name": name}))
            self.stats["person_edits"] += 1
            return copy_project(project)

    def person_archive_project(
        self, account_or_token: str, project_id: str, archived: bool = True
    ) -> dict[str, Any]:
        """Archive (or, archived=False, unarchive) a project as a person would; answer it."""
        with self.lock:
            account = self.find_account(account_or_token)
            project = self._archive_project(account, project_id, archived)
            self.stats["person_edits"] += 1
            return copy_project(project)

    def person_delete_project(self, account_or_token: str, project_id: str) -> dict[str, Any]:
        """Delete a project and every task in it, as deleting it in Todoist does."""
        with self.lock:
            account = self.find_account(account_or_token)
            deleted = self._delete_project(account, project_id)
            self.stats["person_edits"] += 1
            return {"project_id": project_id, "tasks_deleted": deleted}
