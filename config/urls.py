from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from planner.health import HealthView
from planner.metrics import metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("planner.api.urls")),
    path("v1/", include("todoist_sync.api.urls")),
    # What Todoist calls: the OAuth callback (an HTML page) and its webhooks.
    path("todoist/", include("todoist_sync.web_urls")),
    path("v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Operating it (docs/operations.md): probes and Prometheus.
    path("healthz", HealthView.as_view(), name="healthz"),
    path("metrics", metrics, name="metrics"),
]

# Under /v1/, the API's error shape even where no DRF view answers (an unknown path).
handler404 = "planner.api.exceptions.not_found"
handler500 = "planner.api.exceptions.server_error"
