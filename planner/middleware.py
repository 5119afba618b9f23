"""Refuse a NUL character in the query string, the headers or the cookies before any view
sees it.

PostgreSQL cannot store or compare text with NUL, so a NUL that reaches a lookup would be a
500: an admin list filter (query string), the API key lookup (Authorization header), the
session lookup (the session cookie). The API's serializers refuse NUL in bodies already; this
covers every view at once.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse


class RejectNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return self.refuse("Query parameters cannot contain NUL characters.")
        # Headers are in META as HTTP_*. A cookie is checked once parsed too: a quoted value
        # can spell a NUL as "\000", which parsing turns into the character.
        headers = (v for k, v in request.META.items() if k.startswith("HTTP_"))
        cookies = (part for item in request.COOKIES.items() for part in item)
        if any("\x00" in value for value in [*headers, *cookies] if isinstance(value, str)):
            return self.refuse("Headers and cookies cannot contain NUL characters.")
        return self.get_response(request)

    @staticmethod
    def refuse(detail: str) -> HttpResponse:
        # The API's error shape, with its code (the admin shows it as it is): never a 500.
        return JsonResponse({"code": "parse_error", "detail": detail}, status=400)
