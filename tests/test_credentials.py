"""Per-user Todoist tokens: connected through the API or the admin, checked with Todoist (mocked
by `responses`), encrypted at rest, and never shown back."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
import requests
import responses
from django.conf import settings
from django.db import connection
from django.test import override_settings

from planner.models import EventLog
from todoist_sync import services
from todoist_sync.conf import conf
from todoist_sync.models import TodoistCredential
from todoist_sync.services.budget import rate_budget_acquire
from todoist_sync.tokens import encrypt_token, token_key

pytestmark = pytest.mark.django_db

URL = "/v1/sync/todoist/token"
TOKEN = "0123456789abcdef0123456789abcdefSECRETcafe"
USER_URL = f"{settings.TODOIST_API_URL}/user"


def todoist_accepts(rsps) -> None:
    rsps.get(USER_URL, json={"id": "2671355", "email": "alice@example.com"})


def stored_column() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_encrypted FROM todoist_sync_todoistcredential")
        return cursor.fetchone()[0]


# --- the API -------------------------------------------------------------------------------


def test_put_checks_the_token_with_todoist_and_stores_it_encrypted(api_client, user, rsps, caplog):
    todoist_accepts(rsps)
    caplog.set_level(logging.DEBUG)

    response = api_client.put(URL, {"token": f"  {TOKEN} "}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["connected"] is True and body["last4"] == "cafe" and body["verified_at"]
    assert TOKEN not in response.content.decode()
    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    column = stored_column()
    assert column and TOKEN not in column and "SECRET" not in column
    assert services.todoist_token_for(user_id=user.pk) == TOKEN
    assert all(TOKEN not in e.message and TOKEN not in str(e.data) for e in EventLog.objects.all())
    assert TOKEN not in caplog.text


def test_get_never_answers_the_token(api_client, user, rsps):
    assert api_client.get(URL).json() == {
        "status": "none",
        "connected": False,
        "kind": None,
        "last4": None,
        "verified_at": None,
    }
    todoist_accepts(rsps)
    api_client.put(URL, {"token": TOKEN}, format="json")

    response = api_client.get(URL)

    assert response.status_code == 200
    assert response.json()["connected"] is True and response.json()["last4"] == "cafe"
    assert response.json()["status"] == "connected"
    assert response.json()["kind"] == "token"
    text = response.content.decode()
    assert TOKEN not in text and stored_column() not in text


def test_get_is_scoped_to_the_requesting_user(api_client, other_user):
    TodoistCredential.objects.create(
        user=other_user, token_encrypted=encrypt_token("bob-token-9999"), token_last4="9999"
    )
    assert api_client.get(URL).json()["connected"] is False


def test_put_replaces_the_previous_token(api_client, user, rsps):
    todoist_accepts(rsps)
    todoist_accepts(rsps)
    api_client.put(URL, {"token": "first-token-1111"}, format="json")
    api_client.put(URL, {"token": TOKEN}, format="json")
    assert TodoistCredential.objects.get(user=user).token_last4 == "cafe"
    assert services.todoist_token_for(user_id=user.pk) == TOKEN


@pytest.mark.parametrize("status", [401, 403])
def test_a_token_todoist_rejects_is_400_and_not_stored(api_client, rsps, status):
    rsps.get(USER_URL, status=status, json={"error": "Unauthorized", "error_tag": "AUTH_INVALID"})
    response = api_client.put(URL, {"token": TOKEN}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"token": ["Todoist rejected this token."]}
    assert not TodoistCredential.objects.exists()


def test_todoist_unreachable_is_503_and_not_stored(api_client, rsps):
    rsps.get(USER_URL, body=requests.ConnectionError("connection refused"))
    response = api_client.put(URL, {"token": TOKEN}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "todoist_unavailable"
    assert "could not be reached" in response.json()["detail"]
    assert TOKEN not in response.content.decode()
    assert not TodoistCredential.objects.exists()


@override_settings(TODOIST_RATE_LIMIT_REQUESTS=2)
def test_a_token_check_takes_a_slot_of_the_tokens_budget(api_client, rsps):
    rsps.get(USER_URL, status=401, json={"error": "Unauthorized"})
    # The token's syncs took one request already (the budget is per token, not per user).
    assert rate_budget_acquire(key=token_key(TOKEN)) == 0.0
    assert api_client.put(URL, {"token": TOKEN}, format="json").status_code == 400

    response = api_client.put(URL, {"token": TOKEN}, format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "token_rate_limited"
    assert "Too many requests to Todoist with this token" in response.json()["detail"]
    assert 0 < int(response["Retry-After"]) <= conf.TODOIST_RATE_LIMIT_WINDOW + 1
    assert TOKEN not in response.content.decode()
    assert len(rsps.calls) == 1  # the refused check never reached Todoist
    # Another token has its own budget, whoever connects it.
    assert api_client.put(URL, {"token": "another-token-4321"}, format="json").status_code == 400


@override_settings(TODOIST_RATE_LIMIT_REQUESTS=1)
def test_a_spent_budget_is_a_form_error_in_the_admin(admin_client, user, rsps):
    rate_budget_acquire(key=token_key(TOKEN))
    response = admin_client.post(
        "/admin/todoist_sync/todoistcredential/add/", {"user": user.pk, "token": TOKEN}
    )
    assert response.status_code == 200
    assert "Too many requests to Todoist with this token" in response.content.decode()
    assert not TodoistCredential.objects.exists()


@override_settings(TODOIST_TOKEN_ENCRYPTION_KEY="")
def test_no_encryption_key_is_503_and_not_stored(api_client):
    # Whether the service checks the key before or after asking Todoist, nothing is stored.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        todoist_accepts(rsps)
        response = api_client.put(URL, {"token": TOKEN}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "token_storage_unavailable"
    assert "TODOIST_TOKEN_ENCRYPTION_KEY" in response.json()["detail"]
    assert not TodoistCredential.objects.exists()


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": "   "}, {"token": 123}, ["x"]])
def test_put_refuses_a_missing_or_blank_token(api_client, body):
    # No `rsps` fixture: responses is not active, so a request to Todoist would be a failure.
    with mock.patch("todoist_sync.todoist.TodoistClient.get_user") as get_user:
        response = api_client.put(URL, body, format="json")
    assert response.status_code == 400
    get_user.assert_not_called()


def test_delete_disconnects(api_client, user, rsps):
    todoist_accepts(rsps)
    api_client.put(URL, {"token": TOKEN}, format="json")

    assert api_client.delete(URL).status_code == 204
    assert not TodoistCredential.objects.filter(user=user).exists()
    assert api_client.get(URL).json()["connected"] is False
    assert api_client.delete(URL).status_code == 204  # idempotent


def test_own_token_wins_and_the_global_one_serves_the_rest(
    api_client, user, other_user, rsps, queued_jobs
):
    todoist_accepts(rsps)
    api_client.put(URL, {"token": TOKEN}, format="json")
    assert services.todoist_token_for(user_id=user.pk) == TOKEN
    assert services.todoist_token_for(user_id=other_user.pk) == settings.TODOIST_API_TOKEN
    with override_settings(TODOIST_API_TOKEN=""):
        assert api_client.post("/v1/sync/todoist").status_code == 202
        with pytest.raises(services.NoTodoistToken):
            services.todoist_token_for(user_id=other_user.pk)


# --- the admin -----------------------------------------------------------------------------

ADMIN = "/admin/todoist_sync/todoistcredential/"


def test_admin_adds_a_token_checked_with_todoist(admin_client, user, rsps):
    todoist_accepts(rsps)
    form = admin_client.get(f"{ADMIN}add/").content.decode()
    assert 'type="password"' in form

    response = admin_client.post(f"{ADMIN}add/", {"user": user.pk, "token": TOKEN})

    assert response.status_code == 302, response.content.decode()[:2000]
    credential = TodoistCredential.objects.get(user=user)
    assert credential.token_last4 == "cafe" and credential.verified_at
    assert TOKEN not in stored_column()
    assert services.todoist_token_for(user_id=user.pk) == TOKEN
    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"

    for page in (ADMIN, f"{ADMIN}{credential.pk}/change/"):
        html = admin_client.get(page).content.decode()
        assert "…cafe" in html
        assert TOKEN not in html and credential.token_encrypted not in html


def test_admin_refuses_a_token_todoist_rejects(admin_client, user, rsps):
    rsps.get(USER_URL, status=401, json={"error": "Unauthorized"})
    response = admin_client.post(f"{ADMIN}add/", {"user": user.pk, "token": TOKEN})
    assert response.status_code == 200
    assert "Todoist rejected this token." in response.content.decode()
    assert TOKEN not in response.content.decode()  # the password field is not rendered back
    assert not TodoistCredential.objects.exists()


def test_admin_replaces_a_token_on_the_change_page(admin_client, user, rsps):
    credential = TodoistCredential.objects.create(
        user=user, token_encrypted=encrypt_token("old-token-0000"), token_last4="0000"
    )
    todoist_accepts(rsps)
    response = admin_client.post(f"{ADMIN}{credential.pk}/change/", {"token": TOKEN})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert TodoistCredential.objects.get().token_last4 == "cafe"
    assert services.todoist_token_for(user_id=user.pk) == TOKEN


def test_admin_delete_disconnects_through_the_service(admin_client, user):
    credential = TodoistCredential.objects.create(
        user=user, token_encrypted=encrypt_token("old-token-0000"), token_last4="0000"
    )
    response = admin_client.post(f"{ADMIN}{credential.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TodoistCredential.objects.exists()
    assert EventLog.objects.filter(user=user, message="Todoist token disconnected.").exists()


def test_admin_add_for_a_user_who_has_a_token_points_to_its_page(admin_client, user):
    TodoistCredential.objects.create(
        user=user, token_encrypted=encrypt_token("old-token-0000"), token_last4="0000"
    )
    # No `rsps`: the token must not even be sent to Todoist.
    with mock.patch("todoist_sync.todoist.TodoistClient.get_user") as get_user:
        response = admin_client.post(f"{ADMIN}add/", {"user": user.pk, "token": TOKEN})
    assert response.status_code == 200
    assert "This user has a token already" in response.content.decode()
    get_user.assert_not_called()
    assert TodoistCredential.objects.get().token_last4 == "0000"
