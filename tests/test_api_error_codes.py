"""Every API error body carries a stable machine `code` next to its `detail` (and, for invalid
input, the per-field messages under `fields`): one case per code, each provoked the way a client
would, and the codes documented in the OpenAPI schema and docs/api.md."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest
import requests
import responses
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from tests.factories import make_task
from todoist_sync.conf import conf
from todoist_sync.models import TodoistCredential
from todoist_sync.services.budget import rate_budget_acquire
from todoist_sync.tokens import encrypt_token, token_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_jobs")]

API_DOCS = Path(__file__).resolve().parent.parent / "docs" / "api.md"
TRIGGER = "/v1/sync/todoist"
TOKEN_URL = "/v1/sync/todoist/token"
TOKEN = "0123456789abcdef0123456789abcdefcafe"
USER_URL = f"{settings.TODOIST_API_URL}/user"


def anonymous() -> APIClient:
    return APIClient(raise_request_exception=False)


def not_authenticated(client, user):
    return anonymous().get("/v1/tasks")


def authentication_failed(client, user):
    return anonymous().get("/v1/sync/todoist/status", HTTP_AUTHORIZATION="Token 0123abcd")


def permission_denied(client, user):
    # A session without its CSRF token: DRF's SessionAuthentication refuses the write.
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(user)
    return session.post("/v1/tasks", {"title": "x"}, format="json")


def task_not_found(client, user):
    return client.get("/v1/tasks/987654")


def run_not_found(client, user):
    return client.get("/v1/sync/todoist/status", {"job_id": "no-such-run"})


def chat_not_found(client, user):
    return client.get("/v1/sync/todoist/chats/9999999999999999999")  # past 64 bits


def path_not_found(client, user):
    return client.get("/v1/no-such-endpoint")


def method_not_allowed(client, user):
    return client.put(f"/v1/tasks/{make_task(user).pk}", {"title": "x"}, format="json")


def not_acceptable(client, user):
    return client.get("/v1/sync/todoist/status", HTTP_ACCEPT="application/xml")


def unsupported_media_type(client, user):
    return client.post(TRIGGER, "chat_id=1", content_type="application/x-www-form-urlencoded")


def parse_error(client, user):
    return client.post(TRIGGER, "{not json", content_type="application/json")


def nul_in_a_header(client, user):
    return anonymous().get("/v1/tasks", HTTP_AUTHORIZATION="Token 0123\x00abcd")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def request_too_large(client, user):
    return client.post("/v1/tasks", {"title": "x" * 200}, format="json")


def invalid_field(client, user):
    return client.post(TRIGGER, {"chat_id": "42"}, format="json")


def invalid_body(client, user):
    return client.post(TRIGGER, [1, 2], format="json")


def invalid_task(client, user):
    return client.post("/v1/tasks", {"title": ""}, format="json")


def invalid_query(client, user):
    return client.get("/v1/tasks", {"status": "nonsense"})


def throttled(client, user):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "tasks.write": "1/min"}
    with override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ):
        client.post("/v1/tasks", {"title": "one"}, format="json")
        return client.post("/v1/tasks", {"title": "two"}, format="json")


@override_settings(TODOIST_API_TOKEN="")
def no_token(client, user):
    return client.post(TRIGGER, {}, format="json")


@override_settings(TODOIST_API_TOKEN="")
def no_token_for_a_chat(client, user):
    return client.put("/v1/sync/todoist/chats/42", {"project": "Work"}, format="json")


@override_settings(TODOIST_API_TOKEN="", TODOIST_TOKEN_ENCRYPTION_KEY="key-one")
def token_unreadable(client, user):
    TodoistCredential.objects.create(
        user=user, token_encrypted=encrypt_token("tok-1234"), token_last4="1234"
    )
    with override_settings(TODOIST_TOKEN_ENCRYPTION_KEY="key-two"):
        return client.post(TRIGGER, {}, format="json")


def token_rejected(client, user):
    with responses.RequestsMock() as todoist:
        todoist.get(USER_URL, status=401, json={"error": "Unauthorized"})
        return client.put(TOKEN_URL, {"token": TOKEN}, format="json")


def todoist_unavailable(client, user):
    with responses.RequestsMock() as todoist:
        todoist.get(USER_URL, body=requests.ConnectionError("connection refused"))
        return client.put(TOKEN_URL, {"token": TOKEN}, format="json")


@override_settings(TODOIST_RATE_LIMIT_REQUESTS=1)
def token_rate_limited(client, user):
    rate_budget_acquire(key=token_key(TOKEN))  # the token's syncs spent its budget
    return client.put(TOKEN_URL, {"token": TOKEN}, format="json")


@override_settings(TODOIST_TOKEN_ENCRYPTION_KEY="", TODOIST_TOKEN_ENCRYPTION_KEYS=[])
def token_storage_unavailable(client, user):
    return client.put(TOKEN_URL, {"token": TOKEN}, format="json")


def server_error(client, user):
    client.raise_request_exception = False
    with mock.patch("todoist_sync.api.views.selectors.latest_run", side_effect=RuntimeError("x")):
        return client.get("/v1/sync/todoist/status")


Case = Callable[[APIClient, object], object]
# (provoke it, status, code, the fields it names or None, Retry-After expected)
CASES: list[tuple[Case, int, str, set[str] | None, bool]] = [
    (not_authenticated, 401, "not_authenticated", None, False),
    (authentication_failed, 401, "authentication_failed", None, False),
    (permission_denied, 403, "permission_denied", None, False),
    (task_not_found, 404, "not_found", None, False),
    (run_not_found, 404, "not_found", None, False),
    (chat_not_found, 404, "not_found", None, False),
    (path_not_found, 404, "not_found", None, False),
    (method_not_allowed, 405, "method_not_allowed", None, False),
    (not_acceptable, 406, "not_acceptable", None, False),
    (unsupported_media_type, 415, "unsupported_media_type", None, False),
    (parse_error, 400, "parse_error", None, False),
    (nul_in_a_header, 400, "parse_error", None, False),
    (request_too_large, 413, "request_too_large", None, False),
    (invalid_field, 400, "invalid", {"chat_id"}, False),
    (invalid_body, 400, "invalid", {"non_field_errors"}, False),
    (invalid_task, 400, "invalid", {"title"}, False),
    (invalid_query, 400, "invalid", {"status"}, False),
    (throttled, 429, "throttled", None, True),
    (no_token, 409, "no_token", None, False),
    (no_token_for_a_chat, 409, "no_token", None, False),
    (token_unreadable, 409, "token_unreadable", None, False),
    (token_rejected, 400, "token_rejected", {"token"}, False),
    (todoist_unavailable, 503, "todoist_unavailable", None, False),
    (token_rate_limited, 429, "token_rate_limited", None, True),
    (token_storage_unavailable, 503, "token_storage_unavailable", None, False),
    (server_error, 500, "server_error", None, False),
]
CODES = sorted({code for _, _, code, _, _ in CASES})


@pytest.mark.parametrize(
    ("provoke", "status", "code", "fields", "retry_after"),
    [pytest.param(*case, id=case[0].__name__) for case in CASES],
)
def test_every_error_carries_its_code(api_client, user, provoke, status, code, fields, retry_after):
    response = provoke(api_client, user)

    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    if fields is None:
        assert set(body) == {"code", "detail"}
    else:
        assert set(body) == {"code", "detail", "fields"}
        assert set(body["fields"]) == fields
        assert all(isinstance(m, str) and m for ms in body["fields"].values() for m in ms)
    if retry_after:
        assert 0 < int(response["Retry-After"]) <= max(60, conf.TODOIST_RATE_LIMIT_WINDOW + 1)
    else:
        assert "Retry-After" not in response


def test_a_rejected_token_keeps_its_message_under_its_field(api_client, user):
    body = token_rejected(api_client, user).json()
    assert body == {
        "code": "token_rejected",
        "detail": "Todoist rejected this token.",
        "fields": {"token": ["Todoist rejected this token."]},
    }


def test_an_unexpected_error_leaks_nothing(api_client, user):
    response = server_error(api_client, user)
    assert response.json() == {"code": "server_error", "detail": "Internal server error."}
    assert b"Traceback" not in response.content and b"RuntimeError" not in response.content


def test_the_schema_documents_the_error_body_on_every_error_answer(api_client):
    schema = api_client.get("/v1/schema/", {"format": "json"}).json()
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "detail", "fields"}
    assert set(error["required"]) == {"code", "detail"}
    documented = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if int(status) < 400:
                    continue
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path, status)
                documented += 1
    assert documented > 20
    # The codes themselves are listed where a client reads the body's shape.
    assert all(f"`{code}`" in error["properties"]["code"]["description"] for code in CODES)


def test_the_api_docs_table_every_code():
    text = API_DOCS.read_text()
    table = {m.group(1) for m in re.finditer(r"^\| `([a-z_]+)` \| \d{3} \|", text, re.M)}
    assert table == set(CODES)


@pytest.mark.parametrize(
    ("path", "json"), [("/v1/tasks", True), ("/admin/", False), ("/healthz", False)]
)
def test_an_error_outside_the_views_is_json_under_the_api_only(rf, path, json):
    # handler500: what fails before a view (a middleware) never shows a traceback either.
    from django.urls import get_resolver

    handler = get_resolver().resolve_error_handler(500)
    response = handler(rf.get(path))
    assert response.status_code == 500
    if json:
        assert response["Content-Type"] == "application/json"
        body = response.content.decode()
        assert body == '{"code": "server_error", "detail": "Internal server error."}'
    else:
        assert response["Content-Type"].startswith("text/html")
