"""Connecting Todoist through OAuth from the bot, against the simulator's OAuth: the link, the
callback page, reconnecting, and revocation on disconnect (retried while Todoist is down)."""

from __future__ import annotations

import logging
from datetime import timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from todoist_sync.events import sync_events
from todoist_sync.models import TodoistCredential, TodoistOAuthState, TodoistRevocation
from todoist_sync.oauth import OAuthError
from todoist_sync.services.revocations import revocation_attempt
from todoist_sync.tokens import decrypt_token

CLIENT_ID, CLIENT_SECRET = "bot-client", "bot-client-secret-123"
REDIRECT = "http://testserver/todoist/oauth/callback"
CALLBACK = "/todoist/oauth/callback"


@pytest.fixture
def commits(django_capture_on_commit_callbacks):
    """Run what waits for a commit (the revocation job) as the request ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def oauth_sim(sim, settings):
    sim.oauth_register(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_url=REDIRECT)
    settings.TODOIST_CLIENT_ID = CLIENT_ID
    settings.TODOIST_CLIENT_SECRET = CLIENT_SECRET
    settings.TODOIST_OAUTH_URL = sim.root_url
    settings.TODOIST_OAUTH_REDIRECT_URL = REDIRECT
    return sim


def connect_link(api_client) -> str:
    answer = api_client.post(reverse("todoist-sync-connect"))
    assert answer.status_code == 201, answer.content
    return answer.json()["authorize_url"]


def approve(sim, authorize_url: str, decision: str = "allow", account: str = "") -> str:
    """What the person's browser does on the consent page: answers the redirect's path+query."""
    params = parse_qs(urlsplit(authorize_url).query)
    answer = requests.post(
        f"{sim.root_url}/oauth/authorize",
        data={
            "client_id": params["client_id"][0],
            "state": params["state"][0],
            "decision": decision,
            "account": account,
        },
        allow_redirects=False,
        timeout=5,
    )
    location = urlsplit(answer.headers["Location"])
    return f"{location.path}?{location.query}"


def user_token(user) -> str:
    return decrypt_token(TodoistCredential.objects.get(user=user).token_encrypted)


def answers_401(sim, token: str) -> bool:
    answer = requests.get(
        f"{sim.url}/user", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    return answer.status_code == 401


def test_the_link_carries_a_random_state_stored_only_as_digest(oauth_sim, api_client, user):
    answer = api_client.post(reverse("todoist-sync-connect"))
    assert answer.status_code == 201
    body = answer.json()
    url = urlsplit(body["authorize_url"])
    assert f"{url.scheme}://{url.netloc}" == oauth_sim.root_url and url.path == "/oauth/authorize"
    params = parse_qs(url.query)
    assert params["client_id"] == [CLIENT_ID] and params["scope"] == ["data:read_write"]
    state = params["state"][0]
    assert len(state) >= 40
    row = TodoistOAuthState.objects.get(user=user)
    assert row.digest != state and state not in row.digest
    assert row.expires_at - timezone.now() <= timedelta(minutes=10)
    second = connect_link(api_client)
    assert parse_qs(urlsplit(second).query)["state"][0] != state


def test_connect_without_oauth_configured_is_a_409(api_client, settings):
    settings.TODOIST_CLIENT_ID = ""
    answer = api_client.post(reverse("todoist-sync-connect"))
    assert answer.status_code == 409
    assert answer.json()["code"] == "oauth_unavailable"


def test_the_whole_flow_connects_through_oauth(oauth_sim, api_client, client, user):
    callback = approve(oauth_sim, connect_link(api_client))
    page = client.get(callback)
    assert page.status_code == 200
    assert "Todoist is connected; you can go back to the chat." in page.content.decode()
    credential = TodoistCredential.objects.get(user=user)
    assert credential.kind == "oauth" and credential.todoist_user_id
    token = user_token(user)
    assert not answers_401(oauth_sim, token)
    status = api_client.get(reverse("todoist-sync-status")).json()
    assert status["connection"] == "oauth"
    assert api_client.get(reverse("todoist-sync-token")).json()["kind"] == "oauth"
    # The same callback again: its state is used now.
    again = client.get(callback)
    assert again.status_code == 400


def test_status_shows_token_and_shared_connections(api_client, settings, user, todoist):
    assert api_client.get(reverse("todoist-sync-status")).json()["connection"] == "shared"
    TodoistCredential.objects.create(user=user, token_encrypted="x", token_last4="abcd")
    assert api_client.get(reverse("todoist-sync-status")).json()["connection"] == "token"


@pytest.mark.parametrize("case", ["unknown", "expired", "used", "someone_elses"])
def test_a_bad_state_answers_400_and_stores_nothing(
    oauth_sim, api_client, client, user, other_user, case
):
    callback = approve(oauth_sim, connect_link(api_client))
    if case == "unknown":
        callback = callback.replace("state=", "state=x")
    elif case == "expired":
        TodoistOAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif case == "used":
        TodoistOAuthState.objects.update(used_at=timezone.now())
    else:
        client.force_login(other_user)  # the browser is someone else's
    page = client.get(callback)
    assert page.status_code == 400
    assert "Ask the bot for a new one" in page.content.decode()
    assert not TodoistCredential.objects.exists()


def test_access_denied_answers_a_declined_page(oauth_sim, api_client, client, user):
    callback = approve(oauth_sim, connect_link(api_client), decision="deny")
    assert "error=access_denied" in callback
    page = client.get(callback)
    assert page.status_code == 200
    assert "You declined the connection" in page.content.decode()
    assert not TodoistCredential.objects.exists()


def test_reconnecting_replaces_and_revokes_the_old_token(
    oauth_sim, api_client, client, user, commits
):
    client.get(approve(oauth_sim, connect_link(api_client), account="alice"))
    first = user_token(user)
    with commits():
        client.get(approve(oauth_sim, connect_link(api_client), account="alice"))
    second = user_token(user)
    assert second != first
    assert answers_401(oauth_sim, first)
    assert not answers_401(oauth_sim, second)
    assert TodoistCredential.objects.count() == 1
    assert not TodoistRevocation.objects.exists()


def test_disconnect_revokes_the_oauth_token(oauth_sim, api_client, client, user, commits):
    client.get(approve(oauth_sim, connect_link(api_client)))
    token = user_token(user)
    with commits():
        assert api_client.delete(reverse("todoist-sync-token")).status_code == 204
    assert not TodoistCredential.objects.exists()
    assert answers_401(oauth_sim, token)
    assert not TodoistRevocation.objects.exists()


def test_disconnect_while_todoist_is_down_is_retried_by_a_job(
    oauth_sim, api_client, client, user, commits
):
    client.get(approve(oauth_sim, connect_link(api_client)))
    token = user_token(user)
    down = OAuthError("Todoist could not be reached (ConnectionError)")
    with mock.patch("todoist_sync.services.revocations.token_revoke", side_effect=down), commits():
        assert api_client.delete(reverse("todoist-sync-token")).status_code == 204
    # Gone from the user at once; still valid at Todoist; a retry scheduled.
    assert not TodoistCredential.objects.exists()
    assert not answers_401(oauth_sim, token)
    [revocation] = TodoistRevocation.objects.all()
    assert revocation.attempts == 1
    [schedule] = Schedule.objects.filter(name__startswith="todoist-revoke-")
    assert schedule.func == "todoist_sync.tasks.todoist_token_revoke"
    assert schedule.next_run > timezone.now()
    # Todoist is back: the scheduled job revokes it and cleans up.
    assert revocation_attempt(revocation_id=revocation.pk)
    assert answers_401(oauth_sim, token)
    assert not TodoistRevocation.objects.exists()
    assert not Schedule.objects.filter(name__startswith="todoist-revoke-").exists()


def test_an_oauth_token_never_appears_in_logs_events_jobs_or_pages(
    oauth_sim, api_client, client, user, caplog, commits
):
    caplog.set_level(logging.DEBUG)
    events: list = []

    def receiver(sender, events_list=None, **kwargs):
        events.extend(kwargs.get("events", []))

    sync_events.connect(receiver, dispatch_uid="test-oauth-secrets")
    pages: list[str] = []
    try:
        with mock.patch("todoist_sync.services.revocations.async_task") as jobs:
            callback = approve(oauth_sim, connect_link(api_client))
            pages.append(client.get(callback).content.decode())
            token = user_token(user)
            pages.append(api_client.get(reverse("todoist-sync-status")).content.decode())
            pages.append(api_client.get(reverse("todoist-sync-token")).content.decode())
            with commits():
                api_client.delete(reverse("todoist-sync-token"))
            [call] = jobs.call_args_list  # the job, queued with the row's id only
            with mock.patch(
                "todoist_sync.services.revocations.token_revoke",
                side_effect=OAuthError("Todoist did not revoke the token", status=503),
            ):
                revocation_attempt(revocation_id=call.args[1])
    finally:
        sync_events.disconnect(dispatch_uid="test-oauth-secrets")
    assert events and jobs.called
    texts = [r.getMessage() for r in caplog.records]
    texts += [f"{e.message} {e.data}" for e in events]
    texts += [repr(c) for c in jobs.call_args_list]
    texts += [f"{s.args} {s.kwargs}" for s in Schedule.objects.all()]
    texts += pages
    assert texts and not [t for t in texts if token in t]
