"""The API's request limits, counted in Django's default cache (Redis when REDIS_URL is set).

A view names its scope (`throttle_scope = "tasks.write"`); the rate of each scope is in
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], from the environment (see docs/configuration.md).
Rates are read at each request, not at import as DRF's own classes do, so `override_settings`
works in tests.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from rest_framework import throttling
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings

if TYPE_CHECKING:  # DRF imports its throttle and permission classes from its views
    from rest_framework.request import Request
    from rest_framework.views import APIView


class LazyRatesMixin:
    @property
    def THROTTLE_RATES(self) -> dict[str, Any]:
        return api_settings.DEFAULT_THROTTLE_RATES


class ScopedWriteRateThrottle(LazyRatesMixin, throttling.ScopedRateThrottle):
    """DRF's ScopedRateThrottle, counting writes only: reads cost us little and a bot polls.

    A view narrows it further with `throttle_methods` (the token endpoint counts its PUT, the
    check with Todoist, and not its DELETE). A view without `throttle_scope` is not limited.
    """

    methods = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def allow_request(self, request: Request, view: APIView) -> bool:
        methods = getattr(view, "throttle_methods", None) or self.methods
        if request.method not in methods:
            return True
        return super().allow_request(request, view)


class AnonRateThrottle(LazyRatesMixin, throttling.AnonRateThrottle):
    """Per client address, for callers who are not authenticated."""


def unauthenticated_throttled(request: Request, view: APIView | None) -> Throttled | None:
    """Count a request that failed to authenticate against the "anon" rate.

    DRF authenticates before it throttles, so a wrong or missing key is answered 401 without
    ever being counted: a client could guess keys, or make us look them up, without limit.
    Answers the Throttled to raise instead of the 401 once the rate is spent.
    """
    throttle = AnonRateThrottle()
    if throttle.rate is None or throttle.allow_request(request, view):
        return None
    return Throttled(wait=throttle.wait())


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the throttles above count it (DRF's `get_ident`: REMOTE_ADDR,
    or behind API_NUM_PROXIES proxies that many from the right of X-Forwarded-For), for the
    admin login's lockout (AXES_CLIENT_IP_CALLABLE). Not an address (a header the proxy did not
    write): REMOTE_ADDR instead, so it still counts against someone."""
    for candidate in (
        throttling.BaseThrottle().get_ident(request),
        request.META.get("REMOTE_ADDR"),
    ):
        try:
            return str(ipaddress.ip_address((candidate or "").strip()))
        except ValueError:
            continue
    return None
