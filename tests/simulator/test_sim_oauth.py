"""The simulator's OAuth (consent, code exchange, revocation) and its signed webhook deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

CLIENT_ID, CLIENT_SECRET = "sim-client", "sim-client-secret"
REDIRECT = "http://app.test/todoist/oauth/callback"


class Receiver:
    """A local HTTP endpoint that records the webhook deliveries it gets."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def app(sim, receiver):
    sim.oauth_register(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_url=REDIRECT,
        webhook_url=receiver.url,
    )
    return sim


def consent(sim, decision: str, account: str = "", state: str = "st-1") -> dict[str, list[str]]:
    answer = requests.post(
        f"{sim.root_url}/oauth/authorize",
        data={"client_id": CLIENT_ID, "state": state, "decision": decision, "account": account},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def exchange(sim, code: str) -> requests.Response:
    return requests.post(
        f"{sim.root_url}/oauth/access_token",
        data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code},
        timeout=5,
    )


def test_consent_page_offers_allow_and_deny(app):
    page = requests.get(
        f"{app.root_url}/oauth/authorize",
        params={"client_id": CLIENT_ID, "scope": "data:read_write", "state": "abc"},
        timeout=5,
    )
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'value="allow"' in page.text and 'value="deny"' in page.text
    assert 'name="state" value="abc"' in page.text
    unknown = requests.get(f"{app.root_url}/oauth/authorize?client_id=nope", timeout=5)
    assert unknown.status_code == 400


def test_deny_redirects_with_access_denied(app):
    params = consent(app, "deny", state="st-9")
    assert params == {"error": ["access_denied"], "state": ["st-9"]}


def test_code_works_once_and_opens_a_new_or_existing_account(app, sim_token):
    before = set(app.accounts)
    code = consent(app, "allow")["code"][0]
    first = exchange(app, code)
    assert first.status_code == 200
    assert first.json()["token_type"] == "Bearer"
    token = first.json()["access_token"]
    assert exchange(app, code).status_code == 400  # used
    user = requests.get(
        f"{app.url}/user", headers={"Authorization": f"Bearer {token}"}, timeout=5
    ).json()
    assert len(set(app.accounts) - before) == 1  # a new account

    # Naming an existing account: the token opens that one.
    alice = consent(app, "allow", account="alice")["code"][0]
    alice_token = exchange(app, alice).json()["access_token"]
    as_alice = requests.get(
        f"{app.url}/user", headers={"Authorization": f"Bearer {alice_token}"}, timeout=5
    ).json()
    by_token = requests.get(
        f"{app.url}/user", headers={"Authorization": f"Bearer {sim_token}"}, timeout=5
    ).json()
    assert as_alice["id"] == by_token["id"] != user["id"]


def test_wrong_client_secret_is_refused(app):
    code = consent(app, "allow")["code"][0]
    answer = requests.post(
        f"{app.root_url}/oauth/access_token",
        data={"client_id": CLIENT_ID, "client_secret": "wrong", "code": code},
        timeout=5,
    )
    assert answer.status_code == 401


def test_a_revoked_token_answers_401(app):
    token = exchange(app, consent(app, "allow")["code"][0]).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{app.url}/user", headers=auth, timeout=5).status_code == 200
    revoked = requests.post(
        f"{app.url}/access_tokens/revoke",
        json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "access_token": token},
        timeout=5,
    )
    assert revoked.status_code == 200
    assert requests.get(f"{app.url}/user", headers=auth, timeout=5).status_code == 401


def test_signed_webhooks_for_oauth_accounts_only(app, receiver, sim_token):
    app.webhooks_configure(duplicate_rate=0.0, lost_rate=0.0, max_delay_ms=0)
    token = exchange(app, consent(app, "allow", account="alice")["code"][0]).json()["access_token"]
    # The app's own write through the API: an echo is delivered too.
    created = requests.post(
        f"{app.url}/tasks",
        json={"content": "Buy milk"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()
    # A person's edit in the app.
    app.person_task("alice", created["id"], content="Buy oat milk")
    receiver.wait(2)
    assert len(receiver.got) == 2
    events = []
    for headers, body in receiver.got:
        expected = base64.b64encode(
            hmac.new(CLIENT_SECRET.encode(), body, hashlib.sha256).digest()
        ).decode()
        assert headers["x-todoist-hmac-sha256"] == expected
        assert headers["x-todoist-delivery-id"]
        events.append(json.loads(body))
    names = sorted(e["event_name"] for e in events)
    assert names == ["item:added", "item:updated"]
    assert {e["event_data"]["content"] for e in events} == {"Buy milk", "Buy oat milk"}
    assert all(set(e) >= {"user_id", "initiator", "version", "triggered_at"} for e in events)

    # After revocation, no more webhooks for that account.
    requests.post(
        f"{app.url}/access_tokens/revoke",
        data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "access_token": token},
        timeout=5,
    )
    app.person_task("alice", created["id"], content="Buy soy milk")
    time.sleep(0.2)
    assert len(receiver.got) == 2


def test_worst_case_deliveries_duplicate_reorder_and_lose(app, receiver):
    app.webhooks_configure(seed=7, max_delay_ms=200)  # the default rates
    token = exchange(app, consent(app, "allow")["code"][0]).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    for n in range(60):
        requests.post(f"{app.url}/tasks", json={"content": f"t{n}"}, headers=auth, timeout=5)
    stats = app.webhook_stats()
    assert stats["events"] >= 60  # the Inbox project's creation may count too
    receiver.wait(stats["events"] - stats["lost"] + stats["duplicated"], timeout=10)
    assert stats["duplicated"] > 0 and stats["lost"] > 0
    ids = [h["x-todoist-delivery-id"] for h, _ in receiver.got]
    assert len(ids) > len(set(ids))  # the same delivery id twice
    contents = [json.loads(b)["event_data"].get("content") for _, b in receiver.got]
    order = [int(c[1:]) for c in contents if c and c.startswith("t")]
    assert order != sorted(order)  # reordered
