from __future__ import annotations

from django.apps import AppConfig


class TodoConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tests.reuse.todo"
    label = "todo"
    verbose_name = "Todo"

    def ready(self) -> None:
        from tests.reuse.todo.events import sync_events_store
        from todoist_sync.events import sync_events

        # The Todoist sync's events go to this project's own event table.
        sync_events.connect(sync_events_store, dispatch_uid="todo.sync_events_store")
