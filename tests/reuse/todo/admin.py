from __future__ import annotations

from django.contrib import admin

from tests.reuse.todo.models import Todo
from todoist_sync.admin import OwnRowsAdminMixin, TodoistTaskMapInline, resync_tasks


@admin.register(Todo)
class TodoAdmin(OwnRowsAdminMixin, admin.ModelAdmin):
    owner_field = "owner"
    list_display = ["name", "owner", "state", "urgency", "deadline"]
    list_filter = ["state", "urgency"]
    search_fields = ["name", "notes"]
    raw_id_fields = ["owner"]
    # The to-do's Todoist mapping and the re-sync action, offered by todoist_sync.
    inlines = [TodoistTaskMapInline]
    actions = [resync_tasks]
