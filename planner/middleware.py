"""Refuse query strings with a NUL character before any view sees them.

PostgreSQL cannot store or compare text with NUL, so a NUL that reaches a lookup (an admin
list filter, say) would be a 500. The API's serializers refuse NUL already; this covers every
view at once.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse


class RejectNulQueryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                # The API's error shape (the admin shows it as it is): never a 500.
                return JsonResponse(
                    {"detail": "Query parameters cannot contain NUL characters."}, status=400
                )
        return self.get_response(request)
