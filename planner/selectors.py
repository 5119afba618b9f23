"""Reads of the planner app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from planner.models import Task


def task_list(*, user: AbstractBaseUser, filters: dict[str, Any] | None = None) -> QuerySet[Task]:
    """A user's tasks; archived ones only when asked for (`archived=True`)."""
    filters = filters or {}
    qs = Task.objects.filter(user=user, archived=filters.get("archived", False))
    if "status" in filters:
        qs = qs.filter(status=filters["status"])
    if "chat_id" in filters:
        qs = qs.filter(chat_id=filters["chat_id"])
    return qs
