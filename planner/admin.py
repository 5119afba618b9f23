from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model

from planner.models import EventLog, Task


class OwnRowsAdminMixin:
    """Staff who are not superusers see, change and act on their own rows only.

    Every admin path (changelist, change and delete views, actions) goes through
    `get_queryset`, so another user's row is simply not found.
    """

    owner_field = "user"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{self.owner_field: request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == self.owner_field and not request.user.is_superuser:
            kwargs["queryset"] = get_user_model().objects.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Task)
class TaskAdmin(OwnRowsAdminMixin, admin.ModelAdmin):
    list_display = ["title", "user", "status", "priority", "due_date", "archived", "updated_at"]
    list_filter = ["status", "priority", "archived", ("user", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title", "description", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "updated_at"]


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
