from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from knox.admin import AuthTokenAdmin
from knox.models import get_token_model

from planner.models import EventLog, Task
from todoist_sync.admin import OwnRowsAdminMixin, TodoistTaskMapInline, resync_tasks

# Apps whose admin pages are for superusers only, whatever permissions staff hold: django-q2's
# schedules and queue run any function with any arguments, and the API key pages list and
# revoke keys that act as any user (authtoken: should its page ever be registered again).
# Users and groups: Django's UserAdmin lets anyone with `auth.change_user` set is_superuser,
# groups and permissions (their own included) and any user's password, and `auth.change_group`
# gives a group every permission. axes: its lockout records, which a staff user could delete to
# lift a lockout.
SUPERUSER_ONLY_APPS = ["auth", "django_q", "authtoken", "knox", "axes"]


class SuperuserOnlyAdminMixin:
    """Not in the index, and 403 on every page, for anyone but an active superuser."""

    def superuser(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.superuser(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.superuser(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.superuser(request) and super().has_delete_permission(request, obj)


def superuser_only(app_label: str, site: admin.AdminSite = admin.site) -> None:
    """Register the app's admin pages again, wrapped in SuperuserOnlyAdminMixin. Their admin
    modules ran before this one: INSTALLED_APPS lists those apps before planner."""
    try:
        app_config = apps.get_app_config(app_label)
    except LookupError:  # not installed: nothing to guard
        return
    for model in app_config.get_models():
        if not site.is_registered(model):
            continue
        model_admin = type(site.get_model_admin(model))
        site.unregister(model)
        name = f"SuperuserOnly{model_admin.__name__}"
        site.register(model, type(name, (SuperuserOnlyAdminMixin, model_admin), {}))


class ApiKeyAdmin(AuthTokenAdmin):
    """knox's keys, the one API key screen: listed by how they start, revoked by deleting.

    No add page: `manage.py create_api_key` makes a key and prints it once (knox's add page would
    put it in a message, kept in the session until shown). Its template
    (`admin/knox/authtoken/change_list.html`) says so on the screen.
    """

    list_display = ["key_start", "user", "created", "expiry"]
    list_select_related = ["user"]

    @admin.display(description=_("key starts with"), ordering="token_key")
    def key_start(self, obj: Any) -> str:
        return f"{obj.token_key}…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return super().changelist_view(
            request, {"title": _("API keys (bots)"), **(extra_context or {})}
        )


def drop_drf_token_admin(site: admin.AdminSite = admin.site) -> None:
    """DRF's authtoken page shows keys in clear, and makes new ones that no longer authenticate:
    not registered, whether or not rows remain. Deciding at startup from the table's rows would
    read the database on import (before `migrate` too) and go stale in running processes; the
    keys left in clear are reported by the `planner.W001` check and moved by `hash_api_keys`."""
    try:
        token_proxy = apps.get_model("authtoken", "TokenProxy")
    except LookupError:  # authtoken removed from INSTALLED_APPS: nothing to hide
        return
    if site.is_registered(token_proxy):
        site.unregister(token_proxy)


drop_drf_token_admin()
admin.site.unregister(get_token_model())
admin.site.register(get_token_model(), ApiKeyAdmin)

for _app_label in SUPERUSER_ONLY_APPS:
    superuser_only(_app_label)


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
