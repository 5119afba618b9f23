"""The runs of the sync job."""

from __future__ import annotations

from django.contrib import admin

from todoist_sync.admin.mixins import OwnRowsAdminMixin, ReadOnlyDetailMixin
from todoist_sync.models import (
    SyncRun,
)

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
        *SyncRun.COUNTERS,
        "requests",
        "reconcile",
        *SyncRun.DRIFT_COUNTERS,
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
