"""System checks of the planner: API keys still stored in clear."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Warning
from django.db import connections


def check_clear_api_keys(
    app_configs: Any = None, databases: list[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """DRF's authtoken rows are keys in clear, left from before knox: `hash_api_keys` moves them.

    A database check, as Django's own: it runs with `check --database default` and before
    `migrate`, never on a plain `check` (which may run with no database to read).
    """
    if not databases or not apps.is_installed("rest_framework.authtoken"):
        return []
    token = apps.get_model("authtoken", "Token")
    messages: list[CheckMessage] = []
    for alias in databases:
        connection = connections[alias]
        if token._meta.db_table not in connection.introspection.table_names():
            continue  # authtoken not migrated there: no keys
        count = token._default_manager.using(alias).count()
        if count:
            messages.append(
                Warning(
                    f"{count} API key(s) issued before knox are stored in clear in DRF's "
                    f"authtoken table ({alias!r}); they do not authenticate until moved.",
                    hint="Run `python manage.py hash_api_keys`: it keeps only their digests, "
                    "and their clients keep the keys they have.",
                    id="planner.W001",
                )
            )
    return messages
