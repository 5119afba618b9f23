from __future__ import annotations

from django.apps import AppConfig


class TodoistSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "todoist_sync"
    verbose_name = "Todoist sync"
