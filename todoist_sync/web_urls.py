"""What Todoist calls: the OAuth callback and the webhook endpoint. A host includes them under
`todoist/` (so the addresses to register in Todoist's console are /todoist/oauth/callback and
/todoist/webhooks)."""

from __future__ import annotations

from django.urls import path

from todoist_sync.api.web import oauth_callback, webhook

urlpatterns = [
    path("oauth/callback", oauth_callback, name="todoist-oauth-callback"),
    path("webhooks", webhook, name="todoist-webhooks"),
]
