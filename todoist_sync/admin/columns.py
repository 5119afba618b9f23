"""Columns the mapping pages share."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from todoist_sync.models import (
    TodoistTaskMap,
)

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
