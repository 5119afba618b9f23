"""The Todoist projects tasks go to (a full one shows its waiting tasks), and chats' projects."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from todoist_sync import services
from todoist_sync.admin.mixins import OwnRowsAdminMixin, ReadOnlyDetailMixin
from todoist_sync.exceptions import NoTodoistToken
from todoist_sync.models import (
    TodoistChatProject,
    TodoistProject,
)

# -- projects ------------------------------------------------------------------------------------


@admin.register(TodoistProject)
class TodoistProjectAdmin(OwnRowsAdminMixin, ReadOnlyDetailMixin, admin.ModelAdmin):
    """The projects tasks go to; a full one shows how many tasks wait for room."""

    owner_field = "account__user"
    list_display = [
        "name",
        "owner",
        "todoist_project_id",
        "full_since",
        "archived_at",
        "waiting",
        "refused_reason",
    ]
    list_filter = [
        ("full_since", admin.EmptyFieldListFilter),
        ("archived_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "=todoist_project_id"]
    list_select_related = ["account__user"]
    fields = [
        "account",
        "name",
        "todoist_project_id",
        "full_since",
        "archived_at",
        "refused_reason",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        waiting = Count("mappings", filter=~Q(mappings__waiting_reason=""))
        return super().get_queryset(request).annotate(waiting_count=waiting)

    @admin.display(description=_("user"), ordering="account__user")
    def owner(self, obj: TodoistProject) -> Any:
        return obj.account.user

    @admin.display(description=_("tasks waiting"), ordering="waiting_count")
    def waiting(self, obj: TodoistProject) -> int:
        return obj.waiting_count


@admin.register(TodoistChatProject)
class TodoistChatProjectAdmin(OwnRowsAdminMixin, admin.ModelAdmin):
    """Which Todoist project a chat's tasks go to; a change moves them at the next sync."""

    list_display = ["chat_id", "user", "project_name", "updated_at"]
    search_fields = ["project_name", "=chat_id"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        try:  # the sync that moves the chat's open tasks
            services.sync_enqueue(user=obj.user, chat_id=obj.chat_id, trigger="admin")
        except NoTodoistToken as exc:
            self.message_user(request, exc.detail, messages.WARNING)
