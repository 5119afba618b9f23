from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class PlannerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "planner"
    verbose_name = "Planner"

    def ready(self) -> None:
        from planner.checks import check_clear_api_keys
        from planner.services import sync_events_record
        from todoist_sync.events import sync_events

        # The Todoist sync's events go to the planner's event log.
        sync_events.connect(sync_events_record, dispatch_uid="planner.sync_events_record")
        checks.register(check_clear_api_keys, checks.Tags.database, checks.Tags.security)


class ApiKeysConfig(AppConfig):
    """django-rest-knox (API keys stored as digests), under the name an operator knows: the
    admin shows "API keys (bots)", not "Knox". Listed in INSTALLED_APPS in knox's place, as
    Django's docs rename a third-party app; the label stays `knox`, so do its tables and URLs."""

    name = "knox"
    default = False  # not planner's own: "planner" in INSTALLED_APPS still means PlannerConfig
    verbose_name = _("API keys (bots)")
