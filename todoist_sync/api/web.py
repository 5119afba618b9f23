"""The two endpoints Todoist (or the person's browser, sent by Todoist) calls: plain Django
views, not the JSON API.

- `oauth_callback`: where Todoist sends the person back after the consent page; answers a small
  HTML page saying what happened and what to do. Never a 500: the service's errors carry their
  status and text.
- `webhook`: Todoist's deliveries; reads the raw body (the signature covers its bytes),
  answers in milliseconds and never calls Todoist (`todoist_sync.webhooks`).
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from todoist_sync import services
from todoist_sync.exceptions import OAuthDenied, TodoistSyncError
from todoist_sync.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, webhook_receive

logger = logging.getLogger(__name__)

TEMPLATE = "todoist_sync/oauth_result.html"
# Todoist's deliveries are small JSON objects; anything bigger is not one.
MAX_WEBHOOK_BYTES = 1024 * 1024


@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    signed_in = (
        request.user.pk
        if getattr(request, "user", None) and request.user.is_authenticated
        else None
    )
    try:
        services.oauth_connect_finish(
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),
            error=request.GET.get("error", ""),
            user_id=signed_in,
        )
    except OAuthDenied as exc:
        return page(request, title="Connection declined", text=str(exc.detail), status=200)
    except TodoistSyncError as exc:
        return page(
            request, title="Todoist is not connected", text=str(exc.detail), status=exc.status_code
        )
    return page(
        request,
        title="Todoist is connected",
        text="Todoist is connected; you can go back to the chat.",
        status=200,
    )


def page(request: HttpRequest, *, title: str, text: str, status: int) -> HttpResponse:
    response = render(request, TEMPLATE, {"title": title, "text": text}, status=status)
    # The page follows a URL with a code in it: no referrer, no caching.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > MAX_WEBHOOK_BYTES:
        return JsonResponse({"code": "request_too_large", "detail": "Too large."}, status=413)
    result = webhook_receive(
        body=request.body,
        signature=request.headers.get(SIGNATURE_HEADER, ""),
        delivery_id=request.headers.get(DELIVERY_HEADER, ""),
    )
    if result.status != 200:
        logger.info("todoist webhook %s: %s", result.outcome, result.reason)
    return JsonResponse(
        {"code": str(result.outcome), "detail": result.reason}, status=result.status
    )
