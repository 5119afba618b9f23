"""Refuse input that no view could look up, before any view sees it: 400, never a 500.

PostgreSQL cannot store or compare text with NUL, so a NUL that reaches a lookup would be a
500: an admin list filter (query string), the API key lookup (Authorization header), the
session lookup (the session cookie), an admin object id (the path: the admin looks the object
up before it checks permissions, so even staff with no permission got the 500). The API's
serializers refuse NUL in bodies already; these cover every view at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse

# No URL of ours has a control character, and none names anything with one.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# A byte of 0x80 or more that Django could not decode (repercent_broken_unicode).
NOT_UTF8 = re.compile(r"%[89a-fA-F][0-9a-fA-F]")


def refuse(detail: str) -> HttpResponse:
    # The API's error shape, with its code (the admin shows it as it is): never a 500.
    return JsonResponse({"code": "parse_error", "detail": detail}, status=400)


def path_is_bad(request: HttpRequest) -> bool:
    """A control character in the path, or bytes that are not UTF-8: Django keeps those
    percent-encoded in `path_info` (`%FF`), as text no object of ours has."""
    return bool(CONTROL_CHARACTERS.search(request.path_info) or NOT_UTF8.search(request.path_info))


class RejectNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if path_is_bad(request):
            return refuse("The path cannot contain control characters or bytes that are not UTF-8.")
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return refuse("Query parameters cannot contain NUL characters.")
        # Headers are in META as HTTP_*. A cookie is checked once parsed too: a quoted value
        # can spell a NUL as "\000", which parsing turns into the character.
        headers = (v for k, v in request.META.items() if k.startswith("HTTP_"))
        cookies = (part for item in request.COOKIES.items() for part in item)
        if any("\x00" in value for value in [*headers, *cookies] if isinstance(value, str)):
            return refuse("Headers and cookies cannot contain NUL characters.")
        return self.get_response(request)


class AdminActionSelectionMiddleware:
    """An admin action posted with a selected id the model's key cannot hold
    (`_selected_action=abc` for an integer key, a NUL, a number past 64 bits) is refused with
    400. Django passes the ids to `pk__in` as they are: a ValueError or a database error, 500.
    The admin's own checkboxes only ever send real ids, so only a forged post gets here; this
    covers every registered admin, ours and the libraries'."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        # ModelAdmin.get_urls marks each of its views with the admin they belong to.
        model_admin = getattr(view, "model_admin", None)
        if model_admin is None or request.method != "POST" or "action" not in request.POST:
            return None
        pk = model_admin.model._meta.pk
        for value in request.POST.getlist(ACTION_CHECKBOX_NAME):
            try:
                if "\x00" in value:
                    raise ValidationError("NUL")
                pk.clean(value, None)  # its type and range (BigAutoField: 64 bits)
            except ValidationError:
                return refuse(
                    f"Not an id of a {model_admin.opts.verbose_name}: {value!r} selected."
                )
        return None
