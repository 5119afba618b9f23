"""A mapping's sync state as an operator reads it: one short label with a colour, and why.

The model keeps the state in several fields (`sync_state`, `error_permanent`, `waiting_reason`,
`inflight`, `next_retry_at`, `last_error`); the column and the filter here read them together,
so a healthy row says "Synced" and nothing else, and no mark means a problem that is not there.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.timezone import localtime
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from todoist_sync.conf import conf
from todoist_sync.models import TodoistTaskMap

State = TodoistTaskMap.SyncState

# The admin's own colours (light and dark themes both define them), so the label reads in both.
PILL = "padding:1px 6px;border-radius:8px;font-weight:bold;white-space:nowrap;"
STYLES = {
    "synced": PILL + "background:var(--message-success-bg)",
    "pending": PILL + "background:var(--selected-bg)",
    "waiting": PILL + "background:var(--selected-bg)",
    "retrying": PILL + "background:var(--message-warning-bg)",
    "error": PILL + "background:var(--message-error-bg);color:var(--error-fg)",
}

# The filter's choices; each matches the rows `status_of` gives that key, no other.
FILTERS = {
    "synced": (_("Synced"), Q(sync_state=State.SYNCED)),
    "pending": (_("Pending, to be sent"), Q(sync_state=State.PENDING, waiting_reason="")),
    "waiting": (
        _("Pending, waiting for its project"),
        Q(sync_state=State.PENDING) & ~Q(waiting_reason=""),
    ),
    "retrying": (_("Retrying"), Q(sync_state=State.ERROR, error_permanent=False)),
    "error": (_("Error"), Q(sync_state=State.ERROR, error_permanent=True)),
}

WHY_LENGTH = 60  # the rest is in the title, on hover


@dataclass(frozen=True)
class Status:
    key: str  # a FILTERS key
    label: str
    why: str  # shown, shortened
    title: str  # the whole story, on hover


def when(value) -> str:
    return date_format(localtime(value), "M j, H:i")


def status_of(mapping: TodoistTaskMap) -> Status:
    if mapping.sync_state == State.SYNCED:
        synced = _t("Synced")
        title = f"{synced} {when(mapping.last_synced_at)}" if mapping.last_synced_at else synced
        return Status("synced", synced, "", title)
    if mapping.sync_state == State.ERROR and mapping.error_permanent:
        title = _t(
            "Permanent error: %(reason)s. Tried again once the task changes, or with "
            "“Re-sync selected with Todoist”."
        ) % {"reason": mapping.last_error}
        return Status("error", _t("Error"), mapping.last_error, title)
    if mapping.sync_state == State.ERROR:
        why = mapping.last_error
        if mapping.next_retry_at:
            why = f"at {when(mapping.next_retry_at)}: {why}"
        title = _t("Temporary error, attempt %(n)d of %(max)d; retrying %(why)s") % {
            "n": mapping.attempts,
            "max": conf.TODOIST_RETRY_MAX_ATTEMPTS,
            "why": why,
        }
        return Status("retrying", _t("Retrying"), why, title)
    pending = _t("Pending")
    if mapping.waiting_reason:
        why = mapping.waiting_reason
        title = _t("%(why)s: waits, using none of its attempts") % {"why": why}
        return Status("waiting", pending, why, title)
    if mapping.inflight and not mapping.todoist_task_id:
        why = _t("create sent, unconfirmed")
        title = _t("%(why)s: sent again next run with the same id, never created twice") % {
            "why": why
        }
    elif mapping.inflight:
        why = _t("changes sent, unconfirmed")
        title = _t("%(why)s: sent again next run, unchanged") % {"why": why}
    else:
        why = _t("waiting for the next run")
        title = why
    return Status("pending", pending, why, title)


@admin.display(description=_("sync state"), ordering="sync_state")
def sync_status(mapping: TodoistTaskMap) -> SafeString:
    status = status_of(mapping)
    why = ""
    if status.why:
        why = format_html(
            ' <span style="color:var(--body-quiet-color)">{}</span>',
            Truncator(status.why).chars(WHY_LENGTH),
        )
    return format_html(
        '<span class="sync-state sync-state-{}" title="{}"><span style="{}">{}</span>{}</span>',
        status.key,
        status.title,
        STYLES[status.key],
        status.label,
        why,
    )


class SyncStatusFilter(admin.SimpleListFilter):
    title = _("sync state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(key, label) for key, (label, _q) in FILTERS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value() in FILTERS:
            return queryset.filter(FILTERS[self.value()][1])
        return None
