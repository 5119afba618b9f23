"""The operator's view of the sync: mappings, runs and tokens, and a re-sync action.

Mappings and runs are records of what the sync did: read-only here (no add, no delete: a deleted
mapping would make the next run create the task in Todoist a second time).

For the host's task admin this app offers `TodoistTaskMapInline` (the task's mapping) and the
`resync_tasks` action; the host includes them in its own `ModelAdmin`:

    inlines = [TodoistTaskMapInline]
    actions = [resync_tasks]
"""

from __future__ import annotations

from todoist_sync.admin.actions import reconcile_mappings, resync_mappings, resync_tasks
from todoist_sync.admin.credentials import TodoistCredentialAdmin, TodoistCredentialForm
from todoist_sync.admin.mappings import TodoistTaskMapAdmin, TodoistTaskMapInline
from todoist_sync.admin.mixins import OwnRowsAdminMixin, ReadOnlyDetailMixin
from todoist_sync.admin.projects import TodoistChatProjectAdmin, TodoistProjectAdmin
from todoist_sync.admin.runs import SyncRunAdmin

__all__ = [
    "OwnRowsAdminMixin",
    "ReadOnlyDetailMixin",
    "SyncRunAdmin",
    "TodoistChatProjectAdmin",
    "TodoistCredentialAdmin",
    "TodoistCredentialForm",
    "TodoistProjectAdmin",
    "TodoistTaskMapAdmin",
    "TodoistTaskMapInline",
    "reconcile_mappings",
    "resync_mappings",
    "resync_tasks",
]
