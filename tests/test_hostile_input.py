"""Hostile input is refused with a 4xx, never a 500: bodies nested or sized to hurt, NUL
characters where PostgreSQL would choke on them, bytes no key can hold, and a token the admin
could not send to Todoist."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from planner.models import Task
from tests.factories import make_task
from todoist_sync.models import TodoistCredential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_jobs")]

# Each one takes a JSON body.
JSON_ENDPOINTS = [
    ("POST", "/v1/tasks"),
    ("PATCH", "/v1/tasks/{task}"),
    ("POST", "/v1/sync/todoist"),
    ("PUT", "/v1/sync/todoist/token"),
    ("PUT", "/v1/sync/todoist/chats/42"),
]


@pytest.fixture
def client(api_client, user) -> APIClient:
    api_client.raise_request_exception = False  # a 500 is an answer here, not a test error
    api_client.task = make_task(user, title="Keep")
    return api_client


def send(client: APIClient, method: str, url: str, body: str, content_type: str):
    url = url.format(task=client.task.pk)
    return client.generic(method, url, body, content_type=content_type)


@pytest.mark.parametrize(("method", "url"), JSON_ENDPOINTS)
@pytest.mark.parametrize("body", ["[" * 100_000, '{"title": ' * 50_000])
def test_deeply_nested_json_is_400(client, method, url, body):
    # Python's json decoder recurses per level: a RecursionError, a 500 before the fix.
    response = send(client, method, url, body, "application/json")
    assert response.status_code == 400, response.content[:200]
    assert response.json()["code"] == "parse_error"
    assert Task.objects.count() == 1 and Task.objects.get().title == "Keep"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
@pytest.mark.parametrize(
    ("method", "url", "content_type"),
    [(method, url, "application/json") for method, url in JSON_ENDPOINTS]
    # The browsable API's form, which only the task endpoints take.
    + [("POST", "/v1/tasks", "application/x-www-form-urlencoded")],
)
def test_a_body_over_the_upload_limit_is_413(client, method, url, content_type):
    body = json.dumps({"title": "x", "description": "y" * 2000})
    # Django raises RequestDataTooBig when the parser reads it: a 500 before the fix.
    response = send(client, method, url, body, content_type)
    assert response.status_code == 413, response.content[:200]
    assert response.json() == {"code": "request_too_large", "detail": "Request body too large."}
    assert Task.objects.count() == 1


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=5)
def test_too_many_form_fields_is_400(client):
    body = "&".join(f"f{i}=x" for i in range(50))
    response = send(client, "POST", "/v1/tasks", body, "application/x-www-form-urlencoded")
    assert response.status_code == 400


# --- NUL characters: PostgreSQL refuses them in text, so a lookup with one is a 500 ----------


@pytest.mark.parametrize("url", ["/v1/tasks", "/v1/sync/todoist/status", "/admin/"])
def test_a_nul_in_the_authorization_header_is_400(db, url):
    client = APIClient(raise_request_exception=False)
    response = client.get(url, HTTP_AUTHORIZATION="Token 0123456789abcdef\x000123456789abcdef")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error" and "NUL" in response.json()["detail"]


@pytest.mark.parametrize("cookie", ["sessionid", "csrftoken"])
@pytest.mark.parametrize("url", ["/v1/tasks", "/admin/"])
def test_a_nul_in_a_cookie_is_400(db, url, cookie):
    client = Client(raise_request_exception=False)
    client.cookies[cookie] = "abcdefgh\x00ijklmnop"
    assert client.get(url).status_code == 400


def test_a_nul_in_the_cookie_of_a_logged_in_session_is_400(admin_client):
    admin_client.cookies["other"] = "x\x00y"
    assert admin_client.get("/admin/").status_code == 400


@pytest.mark.parametrize(
    "key",
    [
        "Token \xe9\xe9\xe9\xe9",  # latin-1 bytes that are not UTF-8
        "Token caf\xc3\xa9",  # UTF-8, but no key has such characters
        "Token abc-def_ghi",
    ],
)
def test_a_key_with_characters_no_key_has_is_401(db, key):
    client = APIClient(raise_request_exception=False)
    response = client.get("/v1/tasks", HTTP_AUTHORIZATION=key)
    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed", "detail": "Invalid token."}


# --- the admin's token form ----------------------------------------------------------------


@pytest.mark.parametrize("token", ["tökén-0123456789", "two words here", "tab\tinside", "ключ1234"])
def test_admin_refuses_a_token_that_is_not_printable_ascii(admin_client, user, rsps, token):
    # `rsps` has nothing registered: the token must not even be sent to Todoist.
    admin_client.raise_request_exception = False
    response = admin_client.post(
        "/admin/todoist_sync/todoistcredential/add/", {"user": user.pk, "token": token}
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["token"] == ["A Todoist token is printable ASCII without spaces."]
    assert not TodoistCredential.objects.exists()
