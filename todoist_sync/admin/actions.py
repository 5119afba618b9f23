"""The admin actions: re-sync and reconcile, on mappings and on the host's tasks. Each is one
service call per user and a message with a count."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from todoist_sync import services
from todoist_sync.exceptions import NoTodoistToken
from todoist_sync.models import (
    TodoistTaskMap,
)
from todoist_sync.task_model import task_contract

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
