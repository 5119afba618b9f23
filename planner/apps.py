from __future__ import annotations

from django.apps import AppConfig


class PlannerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "planner"
    verbose_name = "Planner"

    def ready(self) -> None:
        from planner.services import sync_events_record
        from todoist_sync.events import sync_events

        # The Todoist sync's events go to the planner's event log.
        sync_events.connect(sync_events_record, dispatch_uid="planner.sync_events_record")
