"""Connecting a user through OAuth against the simulator in its own process, as a person would
in a browser but with plain HTTP: the bot's link, the consent page's Allow, the callback page.

    stack.env.update(oauth_env(sim_root=..., web_url=url))  # before the web and worker start
    oauth_register(sim, env=stack.env, web_url=url)        # the app, its redirect, its webhooks
    oauth_connect(api, account="user-ab12")                # Allow pressed on the consent page

The client secret and the token encryption key are made up per run; the token Todoist issues
never passes through here (the callback exchanges the code server-side).
"""

from __future__ import annotations

import html.parser
import secrets
from urllib.parse import urljoin, urlsplit

import requests

from scripts.harness.api import Api
from scripts.harness.process import StackError
from scripts.harness.simulator import SimProc

CLIENT_ID = "planner-local"
CALLBACK_PATH = "/todoist/oauth/callback"
WEBHOOK_PATH = "/todoist/webhooks"
CONNECTED = "Todoist is connected; you can go back to the chat."


def oauth_env(*, sim_root: str, web_url: str, client_secret: str | None = None) -> dict[str, str]:
    """The settings that turn OAuth connect and webhooks on for a stack whose web process will
    listen on `web_url`, against the simulator at `sim_root` (its URL without /api/v1)."""
    from cryptography.fernet import Fernet

    return {
        "TODOIST_CLIENT_ID": CLIENT_ID,
        "TODOIST_CLIENT_SECRET": client_secret or "local-secret-" + secrets.token_hex(16),
        "TODOIST_OAUTH_URL": sim_root,
        "TODOIST_OAUTH_REDIRECT_URL": web_url + CALLBACK_PATH,
        # OAuth tokens are stored encrypted: a key of this run only.
        "TODOIST_TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


def oauth_register(sim: SimProc, *, env: dict[str, str], web_url: str) -> None:
    """Register the app in the simulator (as in Todoist's App Management Console): its
    credentials, its redirect URL and its webhook URL on the web process."""
    sim.control(
        "POST",
        "oauth/app",
        {
            "client_id": env["TODOIST_CLIENT_ID"],
            "client_secret": env["TODOIST_CLIENT_SECRET"],
            "redirect_url": env["TODOIST_OAUTH_REDIRECT_URL"],
            "webhook_url": web_url + WEBHOOK_PATH,
        },
    )


class _ConsentForm(html.parser.HTMLParser):
    """The fields of the consent page's form (hidden inputs and the named text input)."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = found.get("action", "")
        elif tag == "input" and found.get("name"):
            self.fields[found["name"]] = found.get("value", "")


def oauth_connect(api: Api, *, account: str = "", timeout: float = 10.0) -> None:
    """Connect the API user through OAuth: ask for the link (`POST /v1/sync/todoist/connect`),
    open the consent page, press Allow for the simulated `account` (empty: a new one), follow
    the redirect to the callback. StackError unless the callback's page says Todoist is
    connected."""
    link = api.request("POST", "/v1/sync/todoist/connect", expect=(201,))["authorize_url"]
    browser = requests.Session()
    page = browser.get(link, timeout=timeout)
    if page.status_code != 200:
        raise StackError(f"the consent page answered {page.status_code}: {page.text[:300]}")
    form = _ConsentForm()
    form.feed(page.text)
    fields = {**form.fields, "account": account, "decision": "allow"}
    allowed = browser.post(
        urljoin(link, form.action), data=fields, allow_redirects=False, timeout=timeout
    )
    location = allowed.headers.get("Location", "")
    if allowed.status_code != 302 or urlsplit(location).path != CALLBACK_PATH:
        raise StackError(f"Allow answered {allowed.status_code}, redirecting to {location!r}")
    callback = browser.get(location, timeout=timeout)
    if callback.status_code != 200 or CONNECTED not in callback.text:
        raise StackError(f"the callback answered {callback.status_code}: {callback.text[:300]}")
