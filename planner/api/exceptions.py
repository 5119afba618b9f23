"""One error shape for the API, and never a traceback to the client."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from rest_framework import status
from rest_framework.exceptions import (
    APIException,
    AuthenticationFailed,
    NotAuthenticated,
    ParseError,
)
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from planner.api.throttling import unauthenticated_throttled

logger = logging.getLogger(__name__)


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = api_exception(exc, context)
    response = drf_exception_handler(exc, context)
    if response is None:
        # An unexpected error: log it for us, answer a plain 500 without details for the client.
        logger.exception("Unhandled API error in %s", context.get("view").__class__.__name__)
        return Response(
            {"detail": "Internal server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    return response


def api_exception(exc: Exception, context: dict[str, Any]) -> Exception:
    """The client's mistakes that Django and Python raise as their own errors, as API errors."""
    if isinstance(exc, NotAuthenticated | AuthenticationFailed):
        return unauthenticated_throttled(context["request"], context.get("view")) or exc
    if isinstance(exc, RequestDataTooBig):
        # A body over DATA_UPLOAD_MAX_MEMORY_SIZE, found when the parser reads it.
        return RequestTooLarge()
    if isinstance(exc, SuspiciousOperation):
        # Too many form fields or files, and the like: Django itself answers 400, no details.
        return ParseError()
    if isinstance(exc, RecursionError):
        # Python's json decoder recurses once per nesting level: a body like "[" * 100000 is
        # the one unbounded recursion a request drives, whatever view parses it (todoist_sync's
        # views pin DRF's JSONParser). Logged, in case it ever comes from a bug instead.
        logger.warning(
            "API request refused as nested too deeply (%s)", context.get("view").__class__.__name__
        )
        return ParseError("JSON parse error - nested too deeply.")
    return exc
