"""The API's one error shape, for DRF's `REST_FRAMEWORK["EXCEPTION_HANDLER"]`.

Every error answers ``{"code": ..., "detail": ...}``; invalid input adds ``"fields"`` (field name
-> messages). `code` is the exception's `default_code` (DRF's own: ``not_found``, ``throttled``,
...; the sync's: ``no_token``, ...), stable across releases, so a client never parses `detail`.
DRF's handler still sets the status, ``Retry-After``, ``WWW-Authenticate`` and the rollback.

A host uses `exception_handler` as it is, or calls it from its own after translating its errors.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

SERVER_ERROR = "server_error"
SERVER_ERROR_DETAIL = "Internal server error."


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    exc = api_exception(exc, context)
    response = drf_exception_handler(exc, context)
    if response is None:
        # An unexpected error: logged for us, a plain 500 without details for the client.
        logger.exception("Unhandled API error in %s", type(context.get("view")).__name__)
        return Response(error_body(SERVER_ERROR, SERVER_ERROR_DETAIL), status=500)
    response.data = error_data(exc)
    return response


def api_exception(exc: Exception, context: dict[str, Any]) -> Exception:
    """The errors Django and Python raise for a client's mistakes, as DRF's (DRF's handler
    converts Http404 and PermissionDenied too, but then the code would be lost to us)."""
    if isinstance(exc, Http404):
        return exceptions.NotFound(*exc.args)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, RequestDataTooBig):
        # A body over DATA_UPLOAD_MAX_MEMORY_SIZE, found when the parser reads it.
        return RequestTooLarge()
    if isinstance(exc, SuspiciousOperation):
        # Too many form fields or files, and the like: Django itself answers 400, no details.
        return exceptions.ParseError()
    if isinstance(exc, RecursionError):
        # Python's json decoder recurses once per nesting level: a body like "[" * 100000 is
        # the one unbounded recursion a request drives. Logged, in case it comes from a bug.
        logger.warning(
            "API request refused as nested too deeply (%s)", type(context.get("view")).__name__
        )
        return exceptions.ParseError("JSON parse error - nested too deeply.")
    return exc


def error_data(exc: exceptions.APIException) -> dict[str, Any]:
    """The body of an `APIException`: its code and detail, and the messages of each field."""
    detail = exc.detail
    if isinstance(detail, dict | list):
        # A validation error: the messages stay by field; `detail` says what kind of error.
        fields = detail if isinstance(detail, dict) else {api_settings.NON_FIELD_ERRORS_KEY: detail}
        return error_body(exc.default_code, str(exc.default_detail), fields)
    code = getattr(detail, "code", None) or exc.default_code
    field = getattr(exc, "field", None)  # a sync error about one input (`TokenRejected`)
    return error_body(code, str(detail), {field: [detail]} if field else None)


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if fields is not None:
        body["fields"] = fields
    return body


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """For a host's `handler404` under its API prefix: a path no view has, in the API's shape."""
    return JsonResponse(
        error_body("not_found", str(exceptions.NotFound.default_detail)), status=404
    )


def server_error(request: HttpRequest) -> JsonResponse:
    """For a host's `handler500` under its API prefix: what failed outside the views."""
    return JsonResponse(error_body(SERVER_ERROR, SERVER_ERROR_DETAIL), status=500)
