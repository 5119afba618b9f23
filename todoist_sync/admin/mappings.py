"""The mappings: a read-only list of what the sync did, and the inline for the host's task page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from todoist_sync.admin.actions import reconcile_mappings, resync_mappings
from todoist_sync.admin.columns import todoist_link
from todoist_sync.admin.mixins import OwnRowsAdminMixin, ReadOnlyDetailMixin
from todoist_sync.admin.state import SyncStatusFilter, sync_status
from todoist_sync.models import (
    TodoistTaskMap,
)
from todoist_sync.task_model import get_task_model, task_contract

# -- mappings ------------------------------------------------------------------------------------

MAPPING_DETAIL_FIELDS = [
    "user",
    "local_task",
    "todoist_task_id",
    sync_status,
    "last_error",
    "waiting_reason",
    "project",
    "attempts",
    "next_retry_at",
    "last_synced_at",
    "request_id",
    "inflight",
    "pushed",
    "pushed_fingerprint",
    "failed_fingerprint",
    "last_drift_at",
    "last_drift",
    "created_at",
    "updated_at",
]


@admin.register(TodoistTaskMap)
class TodoistTaskMapAdmin(OwnRowsAdminMixin, ReadOnlyDetailMixin, admin.ModelAdmin):
    list_display = [
        "task_link",
        todoist_link,
        "user",
        # State, why (waiting, retrying at, the error) and the full reason on hover, in one
        # column: no boolean icon, whose red mark for False reads as an error on healthy rows.
        sync_status,
        "last_synced_at",
        "attempts",
        "last_drift_at",
    ]
    list_filter = [
        SyncStatusFilter,
        ("last_drift_at", admin.EmptyFieldListFilter),
        ("project", admin.RelatedOnlyFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["=todoist_task_id"]  # and the task's title: get_search_fields
    list_select_related = ["local_task", "user"]
    # The full count is one more COUNT(*) over a table that can hold a row per task.
    show_full_result_count = False
    fields = MAPPING_DETAIL_FIELDS
    readonly_fields = [sync_status]
    actions = [resync_mappings, reconcile_mappings]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The host names its title field (TodoistSync.title): sort the task column by it.
        type(self).task_link.admin_order_field = self.task_title_lookup()

    @staticmethod
    def task_title_lookup() -> str:
        return f"local_task__{task_contract().title}"

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [self.task_title_lookup(), *self.search_fields]

    @admin.display(description=_("task"))
    def task_link(self, obj: TodoistTaskMap) -> str:
        opts = get_task_model()._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.local_task_id])
        return format_html('<a href="{}">{}</a>', url, Truncator(obj.task_title).chars(80))


class TodoistTaskMapInline(admin.TabularInline):
    """The task's mapping, read-only, for the host's task admin to include."""

    model = TodoistTaskMap
    fk_name = "local_task"
    fields = [sync_status, todoist_link, "last_synced_at", "attempts"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
