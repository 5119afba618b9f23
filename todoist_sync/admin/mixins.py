"""What every admin page of the app shares: rows of other users hidden from staff, and
read-only records."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest


class OwnRowsAdminMixin:
    """Staff who are not superusers see, change and act on their own rows only.

    Every admin path (changelist, change and delete views, actions) goes through
    `get_queryset`, so another user's row is simply not found.
    """

    owner_field = "user"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{self.owner_field: request.user})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == self.owner_field and not request.user.is_superuser:
            kwargs["queryset"] = get_user_model().objects.filter(pk=request.user.pk)
            # Their one choice, not the raw-id widget (`raw_id_fields`): its label names the
            # user of any id put in the URL (`?user=7`), and its lookup lists every user.
            kwargs["widget"] = forms.Select
            kwargs["empty_label"] = None
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyDetailMixin:
    """No add, no delete; the change page is read-only. The change permission (checked without
    an object) still gates the actions, as Django's action permissions expect."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
