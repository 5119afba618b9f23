from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.permissions import IsAuthenticated

if TYPE_CHECKING:  # DRF imports its throttle and permission classes from its views
    from rest_framework.request import Request
    from rest_framework.views import APIView


class DocsPermission(IsAuthenticated):
    """The OpenAPI schema and the docs page: authenticated callers, or anyone with
    API_DOCS_PUBLIC (read at each request, so `override_settings` works)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return getattr(settings, "API_DOCS_PUBLIC", False) or super().has_permission(request, view)
