from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate, post_save


class TodoistSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "todoist_sync"
    verbose_name = "Todoist sync"

    def ready(self) -> None:
        from todoist_sync import signals
        from todoist_sync.checks import ALL_CHECKS
        from todoist_sync.task_model import get_task_model

        for check in ALL_CHECKS:
            checks.register(check)
        post_save.connect(
            signals.task_saved, sender=get_task_model(), dispatch_uid="todoist_sync.task_saved"
        )
        # The safety-net sweep schedule, on every migrate: nothing for an operator to remember.
        post_migrate.connect(
            signals.safety_net_installed, sender=self, dispatch_uid="todoist_sync.safety_net"
        )
