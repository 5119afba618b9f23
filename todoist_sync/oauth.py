"""Todoist's OAuth, as an app uses it: the authorize URL, the `state`, the code exchange and
revocation. Small keyword-only functions over `requests`; no policy, no database.

Facts (../shared/todoist-api.md, "OAuth and webhooks"): the person is sent to
`{TODOIST_OAUTH_URL}/oauth/authorize?client_id&scope=data:read_write&state`; the code is
exchanged at `POST {TODOIST_OAUTH_URL}/oauth/access_token` (single use); a token is revoked at
`POST {TODOIST_API_URL}/access_tokens/revoke`, after which it answers 401.

Secrets (client secret, codes, tokens) never go into an exception text or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlencode

import requests

from todoist_sync.conf import conf

SCOPE = "data:read_write"


class OAuthError(Exception):
    """Todoist refused (`refused`) or could not be reached. The text names no secret."""

    def __init__(self, detail: str, *, refused: bool = False, status: int | None = None) -> None:
        super().__init__(detail)
        self.refused = refused
        self.status = status


def state_new() -> str:
    """A fresh `state`: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def state_digest(state: str) -> str:
    """What is stored of a `state`: keyed with the client secret, so a database copy alone
    cannot forge one."""
    key = conf.TODOIST_CLIENT_SECRET.encode()
    return hmac.new(key, b"oauth-state:" + state.encode(), hashlib.sha256).hexdigest()


def authorize_url(*, state: str) -> str:
    query = urlencode({"client_id": conf.TODOIST_CLIENT_ID, "scope": SCOPE, "state": state})
    return f"{conf.TODOIST_OAUTH_URL.rstrip('/')}/oauth/authorize?{query}"


def _post(url: str, data: dict[str, str]) -> requests.Response:
    try:
        return requests.post(
            url,
            data=data,
            timeout=(conf.TODOIST_CONNECT_TIMEOUT, conf.TODOIST_READ_TIMEOUT),
        )
    except requests.RequestException as exc:
        # The exception's text may quote the request; only its type is kept.
        raise OAuthError(f"Todoist could not be reached ({type(exc).__name__})") from None


def code_exchange(*, code: str) -> str:
    """The access token for an authorization code. Raises OAuthError."""
    answer = _post(
        f"{conf.TODOIST_OAUTH_URL.rstrip('/')}/oauth/access_token",
        {
            "client_id": conf.TODOIST_CLIENT_ID,
            "client_secret": conf.TODOIST_CLIENT_SECRET,
            "code": code,
        },
    )
    if answer.status_code >= 500 or answer.status_code == 429:
        raise OAuthError("Todoist is unavailable", status=answer.status_code)
    if answer.status_code != 200:
        raise OAuthError("Todoist refused the code", refused=True, status=answer.status_code)
    try:
        token = answer.json()["access_token"]
    except (ValueError, KeyError, TypeError):
        raise OAuthError("Todoist's answer held no token", status=answer.status_code) from None
    if not isinstance(token, str) or not token:
        raise OAuthError("Todoist's answer held no token", status=answer.status_code)
    return token


def token_revoke(*, token: str) -> None:
    """Revoke an OAuth token at Todoist. A token Todoist no longer knows counts as revoked.
    Raises OAuthError when Todoist could not confirm it (to be tried again)."""
    answer = _post(
        f"{conf.TODOIST_API_URL.rstrip('/')}/access_tokens/revoke",
        {
            "client_id": conf.TODOIST_CLIENT_ID,
            "client_secret": conf.TODOIST_CLIENT_SECRET,
            "access_token": token,
        },
    )
    if 200 <= answer.status_code < 300:
        return
    raise OAuthError("Todoist did not revoke the token", status=answer.status_code)
