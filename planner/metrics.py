"""GET /metrics, for Prometheus: django-prometheus's metrics (requests, the database, this
process's or, in multiprocess mode, every process's counters) and the sync's figures.

Only for a scraper: one with `Authorization: Bearer <METRICS_TOKEN>`, or from an address in
METRICS_ALLOWED_IPS (the client address as the API sees it, API_NUM_PROXIES included). With
neither setting it answers 404; to anyone else, 403.
"""

from __future__ import annotations

import ipaddress
import secrets

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.http import require_safe
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import CollectorRegistry, generate_latest
from rest_framework.throttling import BaseThrottle

from todoist_sync.metrics import SyncCollector

# The sync's figures, read from the database at each scrape. A registry of their own: in
# multiprocess mode django-prometheus serves a fresh registry of the processes' files.
sync_registry = CollectorRegistry()
sync_registry.register(SyncCollector())


def scraper_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer":
        if secrets.compare_digest(given.strip().encode(), token.encode()):
            return True
    if settings.METRICS_ALLOWED_IPS:
        try:
            client = ipaddress.ip_address(BaseThrottle().get_ident(request))
        except ValueError:
            return False
        return any(
            client in ipaddress.ip_network(allowed, strict=False)
            for allowed in settings.METRICS_ALLOWED_IPS
        )
    return False


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_IPS:
        raise Http404("metrics are off")
    if not scraper_allowed(request):
        return HttpResponseForbidden("not a metrics scraper", content_type="text/plain")
    response = ExportToDjangoView(request)
    response.write(generate_latest(sync_registry))
    return response
