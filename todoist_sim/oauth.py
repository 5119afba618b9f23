"""OAuth of the local Todoist simulator (NOT Todoist itself): consent, code exchange, revocation.

    GET  /oauth/authorize?client_id=...&scope=...&state=...   a consent page: Allow / Deny
    POST /oauth/authorize        the page's form: redirects to the app's registered redirect
                                 URL with `code` and `state`, or `error=access_denied`
    POST /oauth/access_token     client_id, client_secret, code -> {"access_token",
                                 "token_type": "Bearer"}; a code works once
    POST /api/v1/access_tokens/revoke   client_id, client_secret, access_token (JSON or form);
    DELETE /api/v1/access_tokens?...    the same; afterwards the token answers 401

The consent page's `account` field names the simulated account to authorize: an existing one
gets another token, a new name (or none) a new account. Accounts authorized this way receive
webhooks (`todoist_sim.webhooks`). One app at a time (`OAuthServer.register`, or
`POST /__sim__/oauth/app` with client_id, client_secret, redirect_url, webhook_url).

Standard library only; token values are never logged.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from todoist_sim.store import SimState
from todoist_sim.store.model import Outcome, dumps
from todoist_sim.webhooks import WebhookDispatcher

AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/access_token"
REVOKE_PATHS = ("/api/v1/access_tokens/revoke", "/api/v1/access_tokens")
CONTROL_APP_PATH = "/__sim__/oauth/app"
CONTROL_WEBHOOKS_PATH = "/__sim__/webhooks"
PATHS = (AUTHORIZE_PATH, TOKEN_PATH, *REVOKE_PATHS, CONTROL_APP_PATH, CONTROL_WEBHOOKS_PATH)

CONSENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize {app} - todoist_sim</title></head>
<body>
<p><strong>Local Todoist simulator - this is NOT Todoist.</strong></p>
<h1>Authorize {app}</h1>
<p>{app} asks for access to your tasks and projects (scope <code>{scope}</code>).</p>
<form method="post" action="/oauth/authorize">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="state" value="{state}">
<input type="hidden" name="scope" value="{scope}">
<label>Simulated account <input name="account" value="" placeholder="a new account"></label>
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></body></html>
"""


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    redirect_url: str


def _html(status: int, text: str) -> Outcome:
    body = f"<!doctype html><title>todoist_sim</title><p>{html.escape(text)}</p>".encode()
    return Outcome(status, body, {"Content-Type": "text/html; charset=utf-8"})


def _form(body: bytes, query: str = "") -> dict[str, str]:
    """Fields of a form-encoded or JSON body (and the query string)."""
    fields = {k: v[0] for k, v in parse_qs(query).items()}
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = {}
        if isinstance(parsed, dict):
            fields.update({k: v for k, v in parsed.items() if isinstance(v, str)})
    else:
        fields.update({k: v[0] for k, v in parse_qs(text).items()})
    return fields


class OAuthServer:
    """The simulator's OAuth endpoints and its webhook dispatcher."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.app: OAuthApp | None = None
        self.webhooks = WebhookDispatcher()
        self._codes: dict[str, str] = {}  # code -> account name (single use)
        self._tokens: dict[str, str] = {}  # OAuth token -> account name
        self._lock = threading.Lock()
        self._serial = 0

    def register(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_url: str,
        webhook_url: str | None = None,
    ) -> None:
        self.app = OAuthApp(client_id, client_secret, redirect_url)
        self.webhooks.secret = client_secret
        self.webhooks.configure(url=webhook_url)

    def tokens_of(self, account: str) -> list[str]:
        with self._lock:
            return [t for t, name in self._tokens.items() if name == account]

    def handles(self, path: str) -> bool:
        return path in PATHS

    def handle(self, method: str, path: str, query: str, body: bytes) -> Outcome:
        try:
            if path == AUTHORIZE_PATH:
                return self._authorize(method, query, body)
            if path == TOKEN_PATH and method == "POST":
                return self._exchange(_form(body, query))
            if path in REVOKE_PATHS and method in ("POST", "DELETE"):
                return self._revoke(_form(body, query))
            if path == CONTROL_APP_PATH and method == "POST":
                fields = json.loads(body or b"{}")
                self.register(**fields)
                return Outcome(200, dumps({"registered": fields["client_id"]}))
            if path == CONTROL_WEBHOOKS_PATH and method == "POST":
                config = self.webhooks.configure(**json.loads(body or b"{}"))
                return Outcome(200, dumps(config.__dict__))
            if path == CONTROL_WEBHOOKS_PATH and method == "GET":
                return Outcome(200, dumps(self.describe()))
        except (ValueError, TypeError, KeyError) as exc:
            return Outcome(400, dumps({"error": "invalid_request", "detail": str(exc)}))
        return Outcome(405, dumps({"error": "method_not_allowed"}))

    def _authorize(self, method: str, query: str, body: bytes) -> Outcome:
        fields = _form(body, query) if method == "POST" else _form(b"", query)
        app = self.app
        if app is None or fields.get("client_id") != app.client_id:
            return _html(400, "Unknown client_id: no such app is registered.")
        state = fields.get("state", "")
        if method == "GET":
            page = CONSENT_PAGE.format(
                app=html.escape(app.client_id),
                client_id=html.escape(app.client_id),
                state=html.escape(state),
                scope=html.escape(fields.get("scope", "data:read_write")),
            )
            return Outcome(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
        if fields.get("decision") != "allow":
            return self._redirect(app, {"error": "access_denied", "state": state})
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = fields.get("account", "").strip()
        return self._redirect(app, {"code": code, "state": state})

    @staticmethod
    def _redirect(app: OAuthApp, params: dict[str, str]) -> Outcome:
        parts = urlsplit(app.redirect_url)
        query = "&".join(q for q in (parts.query, urlencode(params)) if q)
        location = urlunsplit(parts._replace(query=query))
        return Outcome(302, b"", {"Location": location, "Content-Type": "text/html"})

    def _client_ok(self, fields: dict[str, str]) -> bool:
        app = self.app
        return (
            app is not None
            and fields.get("client_id") == app.client_id
            and secrets.compare_digest(fields.get("client_secret", ""), app.client_secret)
        )

    def _exchange(self, fields: dict[str, str]) -> Outcome:
        if not self._client_ok(fields):
            return Outcome(401, dumps({"error": "invalid_client"}))
        with self._lock:
            name = self._codes.pop(fields.get("code", ""), None)
            if name is None:
                return Outcome(400, dumps({"error": "invalid_grant"}))
            if not name:
                self._serial += 1
                name = f"oauth-user-{self._serial}"
                while name in self.state.accounts:
                    self._serial += 1
                    name = f"oauth-user-{self._serial}"
            token = secrets.token_hex(20)
            self._tokens[token] = name
        if name in self.state.accounts:
            account = self.state.add_token(name, token)
        else:
            account = self.state.add_account(name, token)
        account.listener = self.webhooks.on_change
        self.webhooks.connected.add(name)
        return Outcome(200, dumps({"access_token": token, "token_type": "Bearer"}))

    def _revoke(self, fields: dict[str, str]) -> Outcome:
        if not self._client_ok(fields):
            return Outcome(401, dumps({"error": "invalid_client"}))
        token = fields.get("access_token", "")
        with self._lock:
            name = self._tokens.pop(token, None)
            still = name is not None and name in self._tokens.values()
        if name is not None:
            self.state.drop_token(token)
            if not still:
                # No OAuth grant left: Todoist sends this account no more webhooks.
                self.webhooks.connected.discard(name)
        return Outcome(200, dumps({}))

    def describe(self) -> dict[str, Any]:
        return {
            "app": self.app.client_id if self.app else None,
            "connected": sorted(self.webhooks.connected),
            **self.webhooks.stats,
        }
