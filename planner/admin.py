from __future__ import annotations

from django.contrib import admin

from planner.models import EventLog, Task
from todoist_sync.admin import OwnRowsAdminMixin, TodoistTaskMapInline, resync_tasks


@admin.register(Task)
class TaskAdmin(OwnRowsAdminMixin, admin.ModelAdmin):
    list_display = ["title", "user", "status", "priority", "due_date", "archived", "updated_at"]
    list_filter = ["status", "priority", "archived", ("user", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title", "description", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "updated_at"]
    # The task's Todoist mapping and the re-sync action, offered by todoist_sync.
    inlines = [TodoistTaskMapInline]
    actions = [resync_tasks]


@admin.register(EventLog)
class EventLogAdmin(OwnRowsAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "level", "topic", "user", "message"]
    list_filter = ["level", "topic"]
    search_fields = ["message", "topic", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["user", "level", "topic", "message", "data", "created_at"]

    # The event log is an audit trail: read-only in the admin.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
