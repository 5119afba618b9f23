"""The operator's view of the sync: mappings, runs and tokens, and a re-sync action.

Mappings and runs are records of what the sync did: read-only here (no add, no delete: a deleted
mapping would make the next run create the task in Todoist a second time).

For the host's task admin this app offers `TodoistTaskMapInline` (the task's mapping) and the
`resync_tasks` action; the host includes them in its own `ModelAdmin`:

    inlines = [TodoistTaskMapInline]
    actions = [resync_tasks]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from todoist_sync import services
from todoist_sync.exceptions import NoTodoistToken, TodoistSyncError
from todoist_sync.models import (
    SyncRun,
    TodoistChatProject,
    TodoistCredential,
    TodoistProject,
    TodoistTaskMap,
)
from todoist_sync.task_model import get_task_model, task_contract
from todoist_sync.tokens import token_characters


class OwnRowsAdminMixin:
    """Staff who are not superusers see, change and act on their own rows only.

    Every admin path (changelist, change and delete views, actions) goes through
    `get_queryset`, so another user's row is simply not found.
    """

    owner_field = "user"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{self.owner_field: request.user})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == self.owner_field and not request.user.is_superuser:
            kwargs["queryset"] = get_user_model().objects.filter(pk=request.user.pk)
            # Their one choice, not the raw-id widget (`raw_id_fields`): its label names the
            # user of any id put in the URL (`?user=7`), and its lookup lists every user.
            kwargs["widget"] = forms.Select
            kwargs["empty_label"] = None
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# -- shared columns ------------------------------------------------------------------------------


@admin.display(description=_("Todoist task"), ordering="todoist_task_id")
def todoist_link(obj: TodoistTaskMap) -> str | None:
    if not obj.todoist_url:
        return None  # the admin shows its empty value
    return format_html(
        '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>',
        obj.todoist_url,
        obj.todoist_task_id,
    )


@admin.display(description=_("last error"))
def short_error(obj: TodoistTaskMap) -> str:
    return Truncator(obj.last_error).chars(80)


# -- the re-sync action --------------------------------------------------------------------------


def _resync(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    objects: Iterable[Model],
    resync: Callable[..., int],
    owner_attname: str = "user_id",
) -> None:
    """Run `resync` per user, so a user without a token fails alone and is reported by name."""
    by_user: dict[int, list[Model]] = defaultdict(list)
    for obj in objects:
        by_user[getattr(obj, owner_attname)].append(obj)
    users = get_user_model().objects.in_bulk(list(by_user))
    queued = 0
    for user_id, group in by_user.items():
        try:
            # All or nothing per user: errors are not cleared when no sync can be queued.
            with transaction.atomic():
                queued += resync(group, trigger="admin")
        except NoTodoistToken as exc:
            modeladmin.message_user(
                request,
                _("Not re-synced for %(user)s: %(reason)s")
                % {"user": users[user_id], "reason": exc.detail},
                messages.ERROR,
            )
    if queued:
        modeladmin.message_user(
            request,
            _("Re-sync with Todoist queued for %(count)d %(items)s.")
            % {"count": queued, "items": model_ngettext(modeladmin.opts, queued)},
            messages.SUCCESS,
        )


@admin.action(description=_("Re-sync selected with Todoist"), permissions=["change"])
def resync_mappings(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[TodoistTaskMap]
) -> None:
    mappings = queryset.select_related(None).only("id", "user_id", "local_task_id")
    _resync(
        modeladmin,
        request,
        mappings,
        lambda group, trigger: services.mappings_resync(mappings=group, trigger=trigger),
    )


@admin.action(description=_("Reconcile with Todoist"), permissions=["change"])
def reconcile_mappings(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[TodoistTaskMap]
) -> None:
    """Queue a run of each selected mapping's user that first compares with Todoist (one read
    of the whole account) and restores or reports what a person changed there."""
    runs, refused = services.mappings_reconcile(
        mappings=queryset.select_related(None).only("id", "user_id")
    )
    for reason in refused:
        modeladmin.message_user(request, _("Not reconciled: %s") % reason, messages.ERROR)
    if runs:
        modeladmin.message_user(
            request,
            _("Reconcile with Todoist queued for %(count)d user(s).") % {"count": len(runs)},
            messages.SUCCESS,
        )


@admin.action(description=_("Re-sync selected with Todoist"), permissions=["change"])
def resync_tasks(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    contract = task_contract()
    tasks = queryset.select_related(None).only("id", contract.owner)
    _resync(
        modeladmin,
        request,
        tasks,
        lambda group, trigger: services.tasks_resync(tasks=group, trigger=trigger),
        owner_attname=contract.owner_attname,
    )


# -- mappings ------------------------------------------------------------------------------------

MAPPING_DETAIL_FIELDS = [
    "user",
    "local_task",
    "todoist_task_id",
    "sync_state",
    "error_permanent",
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


class ReadOnlyDetailMixin:
    """No add, no delete; the change page is read-only. The change permission (checked without
    an object) still gates the actions, as Django's action permissions expect."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TodoistTaskMap)
class TodoistTaskMapAdmin(OwnRowsAdminMixin, ReadOnlyDetailMixin, admin.ModelAdmin):
    list_display = [
        "task_link",
        todoist_link,
        "user",
        "sync_state",
        "error_permanent",
        "last_synced_at",
        "attempts",
        "next_retry_at",
        short_error,
        "waiting_reason",
        "last_drift_at",
    ]
    list_filter = [
        "sync_state",
        "error_permanent",
        ("last_drift_at", admin.EmptyFieldListFilter),
        ("project", admin.RelatedOnlyFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["=todoist_task_id"]  # and the task's title: get_search_fields
    list_select_related = ["local_task", "user"]
    # The full count is one more COUNT(*) over a table that can hold a row per task.
    show_full_result_count = False
    fields = MAPPING_DETAIL_FIELDS
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
    fields = [
        "sync_state",
        todoist_link,
        "last_synced_at",
        "attempts",
        "next_retry_at",
        "error_permanent",
        "last_error",
    ]
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
        "waiting",
        "refused_reason",
    ]
    list_filter = [("full_since", admin.EmptyFieldListFilter)]
    search_fields = ["name", "=todoist_project_id"]
    list_select_related = ["account__user"]
    fields = ["account", "name", "todoist_project_id", "full_since", "refused_reason"]

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


# -- runs ----------------------------------------------------------------------------------------


@admin.register(SyncRun)
class SyncRunAdmin(OwnRowsAdminMixin, ReadOnlyDetailMixin, admin.ModelAdmin):
    list_display = [
        "job_id",
        "user",
        "trigger",
        "state",
        "queued_at",
        "started_at",
        "finished_at",
        "created",
        "updated",
        "closed",
        "reopened",
        "unchanged",
        "skipped",
        "failed",
        "requests",
        "reconcile",
        "drift_detected",
        "drift_restored",
        "drift_reported",
    ]
    list_filter = [
        "state",
        "trigger",
        "reconcile",
        ("user", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["=job_id", "user__username"]
    list_select_related = ["user"]
    show_full_result_count = False
    date_hierarchy = "queued_at"


# -- tokens --------------------------------------------------------------------------------------


class TodoistCredentialForm(forms.ModelForm):
    """Takes the token in a password field (never rendered back), checks it with Todoist and
    stores it encrypted, through the same service as the API."""

    token = forms.CharField(
        label=_("Todoist token"),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        max_length=200,
        # As the API's serializer: any other character could not be sent to Todoist (a 500).
        validators=[token_characters],
        help_text=_(
            "Checked with Todoist, then stored encrypted; only its last four characters "
            "are ever shown."
        ),
    )

    class Meta:
        model = TodoistCredential
        fields = ["user"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = cleaned.get("user") or getattr(self.instance, "user", None)
        token = cleaned.get("token")
        if user is None or not token:
            return cleaned
        if self.instance.pk is None and TodoistCredential.objects.filter(user=user).exists():
            self.add_error("user", _("This user has a token already: replace it on its page."))
            return cleaned
        # Check and store in one service call (the admin's change view runs in a transaction,
        # so a later failure rolls the write back); its errors become form errors here.
        try:
            self.instance = services.todoist_credential_connect(user=user, token=token)
        except TodoistSyncError as exc:
            if exc.field is None:
                raise forms.ValidationError(exc.detail) from None
            self.add_error(exc.field, exc.detail)
        return cleaned


@admin.register(TodoistCredential)
class TodoistCredentialAdmin(OwnRowsAdminMixin, admin.ModelAdmin):
    form = TodoistCredentialForm
    list_display = ["user", "masked_token", "verified_at", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]

    @admin.display(description=_("token"))
    def masked_token(self, obj: TodoistCredential) -> str:
        return f"…{obj.token_last4}"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is None:
            return ["user", "token"]
        return ["user", "masked_token", "verified_at", "token"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["user", "masked_token", "verified_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        pass  # stored by services.todoist_credential_connect in the form's clean()

    def delete_model(self, request: HttpRequest, obj: TodoistCredential) -> None:
        services.todoist_credential_disconnect(user=obj.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TodoistCredential]) -> None:
        for credential in queryset.select_related("user"):
            services.todoist_credential_disconnect(user=credential.user)
