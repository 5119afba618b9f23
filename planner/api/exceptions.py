"""The host's API errors: todoist_sync's handler (one error shape, with a machine `code`), after
the planner's own translation of a failed authentication."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views import defaults
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.response import Response

from planner.api.throttling import unauthenticated_throttled
from todoist_sync.api import exceptions as api_errors

API_PREFIX = "/v1/"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, NotAuthenticated | AuthenticationFailed):
        # A failed authentication counts against the "anon" rate: a 429 once it is spent.
        exc = unauthenticated_throttled(context["request"], context.get("view")) or exc
    return api_errors.exception_handler(exc, context)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """`handler404`: a path under the API no view has answers in the API's shape, too."""
    if request.path.startswith(API_PREFIX):
        return api_errors.not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: an error outside the API's views (a middleware) under the API, as JSON."""
    if request.path.startswith(API_PREFIX):
        return api_errors.server_error(request)
    return defaults.server_error(request)
