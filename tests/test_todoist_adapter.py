"""Tests for the Todoist HTTP adapter (todoist_sync.todoist): no network, no database.

Every HTTP exchange is served by `responses`; the real Todoist is never contacted.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from todoist_sync.todoist import (
    SyncResult,
    TodoistAuthError,
    TodoistClient,
    TodoistConfigurationError,
    TodoistError,
    TodoistNotFoundError,
    TodoistRateLimitedError,
    TodoistTransientError,
    TodoistValidationError,
    error_from_response,
)

TOKEN = "tok-ZQX7-SECRET-4f9a2c7e1b8d"
BASE = "https://todoist.test/api/v1"
ROOT = Path(__file__).resolve().parent.parent
TASK = {"id": "6X7rM8997g3RQmvh", "content": "Buy milk", "priority": 4}


@pytest.fixture
def client() -> TodoistClient:
    # Trailing slash on purpose: the adapter must not produce "//tasks".
    return TodoistClient(
        token=TOKEN,
        base_url=BASE + "/",
        connect_timeout=3.0,
        read_timeout=7.0,
        session=requests.Session(),
    )


def _query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query, keep_blank_values=True)


def _error_body(status: int, tag: str | None, message: str, **extra) -> dict:
    body: dict = {"error": message, "error_code": 20, "http_code": status, "error_extra": extra}
    if tag is not None:
        body["error_tag"] = tag
    return body


# --------------------------------------------------------------------------------------------------
# Requests: URL, method, headers, body, timeouts


def test_update_task_posts_to_task_url_with_auth_body_and_timeouts(rsps, client):
    rsps.post(f"{BASE}/tasks/6X7rM8997g3RQmvh", json={**TASK, "content": "Buy oat milk"})

    result = client.update_task("6X7rM8997g3RQmvh", {"content": "Buy oat milk"})

    assert result["content"] == "Buy oat milk"
    request = rsps.calls[0].request
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "X-Request-Id" not in request.headers
    assert json.loads(request.body) == {"content": "Buy oat milk"}
    assert request.req_kwargs["timeout"] == (3.0, 7.0)


@pytest.mark.parametrize("call", ["update", "close", "reopen"])
def test_every_call_on_one_task_quotes_its_id_and_refuses_an_empty_one(rsps, client, call):
    calls = {
        "update": lambda task_id: client.update_task(task_id, {"content": "x"}),
        "close": client.close_task,
        "reopen": client.reopen_task,
    }
    suffix = "" if call == "update" else f"/{call}"
    rsps.post(f"{BASE}/tasks/a%2Fb%20c%3F{suffix}", json={"id": "a/b c?"})

    calls[call]("a/b c?")

    request = rsps.calls[0].request
    assert request.url == f"{BASE}/tasks/a%2Fb%20c%3F{suffix}"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.req_kwargs["timeout"] == (3.0, 7.0)
    with pytest.raises(ValueError):
        calls[call]("")
    assert len(rsps.calls) == 1


@pytest.mark.parametrize(
    ("status", "body"), [(200, "null"), (204, ""), (200, "")], ids=["200-null", "204", "200-empty"]
)
def test_close_task_accepts_any_2xx(rsps, client, status, body):
    rsps.post(f"{BASE}/tasks/T1/close", status=status, body=body)

    assert client.close_task("T1") is None

    request = rsps.calls[0].request
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.body is None
    assert request.req_kwargs["timeout"] == (3.0, 7.0)


def test_reopen_task_posts_to_reopen(rsps, client):
    rsps.post(f"{BASE}/tasks/T1/reopen", status=204)

    assert client.reopen_task("T1") is None

    assert rsps.calls[0].request.url == f"{BASE}/tasks/T1/reopen"
    assert rsps.calls[0].request.req_kwargs["timeout"] == (3.0, 7.0)


def test_get_user_uses_get_user(rsps, client):
    rsps.get(f"{BASE}/user", json={"id": "42", "full_name": "Alice"})

    assert client.get_user() == {"id": "42", "full_name": "Alice"}

    request = rsps.calls[0].request
    assert request.method == "GET"
    assert request.url == f"{BASE}/user"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.req_kwargs["timeout"] == (3.0, 7.0)


def test_default_timeouts_and_passed_session_are_used():
    session = mock.Mock(spec=requests.Session)
    answer = requests.Response()
    answer.status_code = 200
    answer.raw = io.BytesIO(json.dumps(TASK).encode())
    session.request.return_value = answer
    client = TodoistClient(token=TOKEN, base_url=BASE, session=session)

    assert client.update_task("T1", {"content": "Buy milk"}) == TASK

    session.request.assert_called_once()
    args, kwargs = session.request.call_args
    assert args == ("POST", f"{BASE}/tasks/T1")
    assert kwargs["timeout"] == (10.0, 30.0)
    assert kwargs["allow_redirects"] is False
    # The token travels per request (auth object), never in the kwargs as text.
    assert TOKEN not in repr(kwargs)
    prepared = kwargs["auth"](requests.Request("POST", f"{BASE}/tasks/T1").prepare())
    assert prepared.headers["Authorization"] == f"Bearer {TOKEN}"


def test_clients_without_a_session_share_one_that_carries_no_token(rsps):
    rsps.get(f"{BASE}/user", json={"id": "1"})
    rsps.get(f"{BASE}/user", json={"id": "2"})
    first = TodoistClient(token=TOKEN, base_url=BASE)
    second = TodoistClient(token="another-token-000", base_url=BASE)
    send = requests.Session.request
    with mock.patch.object(requests.Session, "request", autospec=True, side_effect=send) as sent:
        first.get_user()
        second.get_user()

    [shared, again] = [call.args[0] for call in sent.call_args_list]  # the sessions used
    assert isinstance(shared, requests.Session)
    assert again is shared
    assert "Authorization" not in shared.headers
    assert shared.auth is None
    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer another-token-000"


def test_the_shared_session_is_made_at_the_first_request_not_before():
    # In a fresh interpreter: this one may have made the shared session already.
    script = textwrap.dedent(f"""
        from unittest import mock

        import requests
        import responses

        with mock.patch("requests.Session", wraps=requests.Session) as made:
            from todoist_sync.todoist import TodoistClient

            client = TodoistClient(token="tok-1234", base_url="{BASE}")
            assert not made.called, "a session was made before the first request"
            with responses.RequestsMock() as rsps:
                rsps.get("{BASE}/user", json={{"id": "1"}})
                client.get_user()
            assert made.call_count == 1, made.call_count
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------------
# list_tasks: cursor and chunking


def test_list_tasks_follows_cursor_over_three_pages(rsps, client):
    rsps.get(f"{BASE}/tasks", json={"results": [{"id": "a"}, {"id": "b"}], "next_cursor": "c1"})
    rsps.get(f"{BASE}/tasks", json={"results": [{"id": "c"}], "next_cursor": "c2"})
    rsps.get(f"{BASE}/tasks", json={"results": [{"id": "d"}], "next_cursor": None})

    tasks = client.list_tasks(ids=["a", "b", "c", "d"])

    assert [task["id"] for task in tasks] == ["a", "b", "c", "d"]
    assert len(rsps.calls) == 3
    queries = [_query(call) for call in rsps.calls]
    for query in queries:
        assert query["ids"] == ["a,b,c,d"]
        assert query["limit"] == ["200"]
    assert "cursor" not in queries[0]
    assert queries[1]["cursor"] == ["c1"]
    assert queries[2]["cursor"] == ["c2"]
    # Commas are sent literally, as in ids=a,b,c.
    assert "ids=a,b,c,d" in rsps.calls[0].request.url
    assert all(call.request.req_kwargs["timeout"] == (3.0, 7.0) for call in rsps.calls)


def test_list_tasks_chunks_ids_by_100(rsps, client):
    ids = [f"id{n:03d}" for n in range(250)]
    for start in (0, 100, 200):
        rsps.get(
            f"{BASE}/tasks",
            json={"results": [{"id": i} for i in ids[start : start + 100]], "next_cursor": None},
        )

    tasks = client.list_tasks(ids=ids)

    assert [task["id"] for task in tasks] == ids
    chunks = [_query(call)["ids"][0].split(",") for call in rsps.calls]
    assert [len(chunk) for chunk in chunks] == [100, 100, 50]
    assert chunks[0] + chunks[1] + chunks[2] == ids


def test_list_tasks_follows_cursor_inside_each_chunk(rsps, client):
    ids = [f"id{n:03d}" for n in range(101)]
    rsps.get(f"{BASE}/tasks", json={"results": [{"id": "id000"}], "next_cursor": "more"})
    rsps.get(f"{BASE}/tasks", json={"results": [{"id": "id001"}], "next_cursor": None})
    rsps.get(f"{BASE}/tasks", json={"results": [{"id": "id100"}], "next_cursor": None})

    tasks = client.list_tasks(ids=ids)

    assert [task["id"] for task in tasks] == ["id000", "id001", "id100"]
    queries = [_query(call) for call in rsps.calls]
    assert len(queries[0]["ids"][0].split(",")) == 100
    assert queries[1]["cursor"] == ["more"]
    assert queries[1]["ids"] == queries[0]["ids"]
    assert queries[2]["ids"] == ["id100"]
    assert "cursor" not in queries[2]


def test_list_tasks_with_no_ids_sends_nothing(rsps, client):
    assert client.list_tasks(ids=[]) == []
    assert len(rsps.calls) == 0


def test_list_tasks_rejects_bad_ids(client):
    with pytest.raises(ValueError):
        client.list_tasks(ids="abc")
    with pytest.raises(ValueError):
        client.list_tasks(ids=["a,b"])
    with pytest.raises(ValueError):
        client.list_tasks(ids=[""])


def test_list_tasks_repeated_cursor_is_transient(rsps, client):
    rsps.get(f"{BASE}/tasks", json={"results": [], "next_cursor": "same"})
    rsps.get(f"{BASE}/tasks", json={"results": [], "next_cursor": "same"})

    with pytest.raises(TodoistTransientError):
        client.list_tasks(ids=["a"])


@pytest.mark.parametrize(
    "body",
    [{"tasks": []}, {"results": [{"no_id": 1}]}, {"results": [], "next_cursor": 5}, []],
    ids=["no-results", "task-without-id", "bad-cursor", "list"],
)
def test_list_tasks_garbled_page_is_transient(rsps, client, body):
    rsps.get(f"{BASE}/tasks", json=body)

    with pytest.raises(TodoistTransientError):
        client.list_tasks(ids=["a"])


# --------------------------------------------------------------------------------------------------
# sync


def _commands(count: int) -> list[dict]:
    return [{"type": "item_close", "uuid": f"u{n}", "args": {"id": f"T{n}"}} for n in range(count)]


def test_sync_posts_json_commands_and_classifies_each_status(rsps, client):
    commands = [
        {"type": "item_add", "uuid": "u-ok", "temp_id": "tmp-1", "args": {"content": "a"}},
        {"type": "item_update", "uuid": "u-bad", "args": {"id": "T2", "content": "x" * 600}},
        {"type": "item_add", "uuid": "u-limit", "temp_id": "tmp-3", "args": {"content": "c"}},
        {"type": "item_close", "uuid": "u-gone", "args": {"id": "T4"}},
        {"type": "item_close", "uuid": "u-slow", "args": {"id": "T5"}},
        {"type": "item_close", "uuid": "u-auth", "args": {"id": "T6"}},
        {"type": "item_close", "uuid": "u-nocode", "args": {"id": "T7"}},
    ]
    answer = {
        "sync_token": "st",
        "sync_status": {
            "u-ok": "ok",
            "u-bad": _error_body(
                400,
                "INVALID_ARGUMENT_VALUE",
                "Invalid argument value",
                argument="content",
                explanation="Text is too long",
            ),
            "u-limit": _error_body(403, "MAX_ITEMS_LIMIT_REACHED", "Maximum items limit reached"),
            "u-gone": _error_body(404, "ITEM_NOT_FOUND", "Item not found"),
            "u-slow": _error_body(429, "LIMITS_REACHED", "Too many requests", retry_after=7),
            "u-auth": _error_body(403, "AUTH_USER_DELETED", "User deleted"),
            "u-nocode": {"error": "Invalid temporary id", "error_tag": "INVALID_TEMPID"},
        },
        "temp_id_mapping": {"tmp-1": "6X7rM8997g3RQmvh"},
    }
    rsps.post(f"{BASE}/sync", json=answer)

    result = client.sync(commands)

    request = rsps.calls[0].request
    assert request.method == "POST"
    assert request.url == f"{BASE}/sync"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"commands": commands}
    assert request.req_kwargs["timeout"] == (3.0, 7.0)

    assert isinstance(result, SyncResult)
    assert result.temp_id_mapping == {"tmp-1": "6X7rM8997g3RQmvh"}
    assert result.raw == answer
    status = result.sync_status
    assert set(status) == {c["uuid"] for c in commands}
    assert status["u-ok"] == "ok"

    bad = status["u-bad"]
    assert type(bad) is TodoistValidationError
    assert bad.status == 400
    assert bad.error_tag == "INVALID_ARGUMENT_VALUE"
    assert bad.error_code == 20
    assert bad.argument == "content"
    assert bad.detail == (
        "Todoist rejected the request (400 INVALID_ARGUMENT_VALUE): content: Text is too long"
    )

    limit = status["u-limit"]
    assert type(limit) is TodoistValidationError
    assert limit.error_tag == "MAX_ITEMS_LIMIT_REACHED"

    assert type(status["u-gone"]) is TodoistNotFoundError
    slow = status["u-slow"]
    assert type(slow) is TodoistRateLimitedError
    assert slow.retry_after == 7.0
    assert type(status["u-auth"]) is TodoistAuthError

    nocode = status["u-nocode"]
    assert type(nocode) is TodoistValidationError
    assert nocode.status is None
    assert nocode.error_tag == "INVALID_TEMPID"


def test_sync_without_temp_id_mapping_gives_empty_mapping(rsps, client):
    rsps.post(f"{BASE}/sync", json={"sync_status": {"u0": "ok"}})

    result = client.sync(_commands(1))

    assert result.sync_status == {"u0": "ok"}
    assert result.temp_id_mapping == {}


def test_sync_accepts_exactly_100_commands(rsps, client):
    rsps.post(f"{BASE}/sync", json={"sync_status": {f"u{n}": "ok" for n in range(100)}})

    result = client.sync(_commands(100))

    assert len(json.loads(rsps.calls[0].request.body)["commands"]) == 100
    assert len(result.sync_status) == 100


def test_sync_rejects_more_than_100_commands_without_sending(rsps, client):
    with pytest.raises(ValueError, match="101"):
        client.sync(_commands(101))
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "commands",
    [
        [{"type": "item_close", "args": {}}],
        [{"uuid": "u", "args": {}}],
        [{"type": "item_close", "uuid": "u"}],
        [{"type": "item_close", "uuid": "u", "args": {}}] * 2,
    ],
    ids=["no-uuid", "no-type", "no-args", "duplicate-uuid"],
)
def test_sync_rejects_malformed_commands(rsps, client, commands):
    with pytest.raises(ValueError):
        client.sync(commands)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps({"sync_token": "x"}), "application/json"),
        (json.dumps({"sync_status": "ok"}), "application/json"),
        (json.dumps({"sync_status": {}, "temp_id_mapping": []}), "application/json"),
        ("<html>oops</html>", "text/html"),
        ("", "application/json"),
    ],
    ids=["missing-sync_status", "sync_status-not-object", "mapping-not-object", "html", "empty"],
)
def test_sync_garbled_answer_is_transient(rsps, client, body, content_type):
    rsps.post(f"{BASE}/sync", body=body, content_type=content_type)

    with pytest.raises(TodoistTransientError) as info:
        client.sync(_commands(1))
    assert info.value.status == 200


def test_sync_unreadable_command_status_is_transient_for_that_command(rsps, client):
    rsps.post(f"{BASE}/sync", json={"sync_status": {"u0": "ok", "u1": 17}})

    result = client.sync(_commands(2))

    assert result.sync_status["u0"] == "ok"
    assert type(result.sync_status["u1"]) is TodoistTransientError


# --------------------------------------------------------------------------------------------------
# Error classification over HTTP


@pytest.mark.parametrize(
    ("status", "body", "cls", "detail"),
    [
        (
            400,
            _error_body(
                400,
                "INVALID_ARGUMENT_VALUE",
                "Invalid argument value",
                argument="content",
                explanation="Text is too long",
            ),
            TodoistValidationError,
            "Todoist rejected the request (400 INVALID_ARGUMENT_VALUE): content: Text is too long",
        ),
        (
            401,
            _error_body(401, "AUTH_INVALID_TOKEN", "Invalid token"),
            TodoistAuthError,
            "Todoist rejected the credentials (401 AUTH_INVALID_TOKEN): Invalid token",
        ),
        (
            403,
            _error_body(403, "AUTH_USER_DELETED", "User deleted"),
            TodoistAuthError,
            "Todoist rejected the credentials (403 AUTH_USER_DELETED): User deleted",
        ),
        (403, "Forbidden", TodoistAuthError, "Todoist rejected the credentials (403): Forbidden"),
        (
            403,
            _error_body(403, "MAX_ITEMS_LIMIT_REACHED", "Maximum items limit reached"),
            TodoistValidationError,
            "Todoist rejected the request (403 MAX_ITEMS_LIMIT_REACHED): "
            "Maximum items limit reached",
        ),
        (
            404,
            _error_body(404, "NOT_FOUND", "Task not found"),
            TodoistNotFoundError,
            "Todoist could not find the item (404 NOT_FOUND): Task not found",
        ),
        (
            410,
            "This endpoint is deprecated",
            TodoistConfigurationError,
            "Todoist answered 410 Gone: this API version is retired; "
            "set TODOIST_API_URL to https://api.todoist.com/api/v1",
        ),
        (
            422,
            _error_body(422, "INVALID_DATE_FORMAT", "Invalid date", argument="due_date"),
            TodoistValidationError,
            "Todoist rejected the request (422 INVALID_DATE_FORMAT): due_date: Invalid date",
        ),
        (
            500,
            "",
            TodoistTransientError,
            "Todoist is temporarily unavailable (500)",
        ),
        (
            503,
            "<html>Service Unavailable</html>",
            TodoistTransientError,
            "Todoist is temporarily unavailable (503): <html>Service Unavailable</html>",
        ),
        (
            405,
            "",
            TodoistConfigurationError,
            "Todoist answered an unexpected status (405); "
            "check TODOIST_API_URL (https://api.todoist.com/api/v1)",
        ),
        (
            302,
            "",
            TodoistConfigurationError,
            "Todoist answered an unexpected status (302); "
            "check TODOIST_API_URL (https://api.todoist.com/api/v1)",
        ),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else None,
)
def test_error_statuses_are_classified(rsps, client, status, body, cls, detail):
    if isinstance(body, dict):
        rsps.post(f"{BASE}/tasks/T1", status=status, json=body)
    else:
        rsps.post(f"{BASE}/tasks/T1", status=status, body=body, content_type="text/plain")

    with pytest.raises(TodoistError) as info:
        client.update_task("T1", {"content": "x"})

    error = info.value
    assert type(error) is cls
    assert error.status == status
    assert error.detail == detail
    assert str(error) == detail
    if isinstance(body, dict):
        assert error.error_tag == body["error_tag"]
        assert error.error_code == 20


def test_validation_error_carries_argument(rsps, client):
    body = _error_body(400, "INVALID_ARGUMENT_VALUE", "Invalid", argument="priority")
    rsps.post(f"{BASE}/tasks/T1", status=400, json=body)

    with pytest.raises(TodoistValidationError) as info:
        client.update_task("T1", {"content": "x", "priority": 9})
    assert info.value.argument == "priority"


def test_redirect_is_not_followed(rsps, client):
    rsps.post(f"{BASE}/tasks/T1", status=301, headers={"Location": "https://elsewhere.test/tasks"})

    with pytest.raises(TodoistConfigurationError):
        client.update_task("T1", {"content": "x"})
    assert len(rsps.calls) == 1


def test_429_retry_after_header_in_seconds(rsps, client):
    body = _error_body(429, "LIMITS_REACHED", "Too many requests", retry_after=99)
    rsps.post(f"{BASE}/tasks/T1", status=429, json=body, headers={"Retry-After": "12"})

    with pytest.raises(TodoistRateLimitedError) as info:
        client.update_task("T1", {"content": "x"})
    # The header wins over the body.
    assert info.value.retry_after == 12.0
    assert info.value.status == 429
    assert info.value.error_tag == "LIMITS_REACHED"
    assert info.value.detail == (
        "Todoist rate limit reached (429 LIMITS_REACHED): Too many requests; retry after 12 s"
    )


def test_429_retry_after_header_as_http_date(rsps, client):
    header = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    rsps.post(f"{BASE}/tasks/T1", status=429, body="", headers={"Retry-After": header})

    with pytest.raises(TodoistRateLimitedError) as info:
        client.update_task("T1", {"content": "x"})
    # An HTTP date has whole seconds: 90 s from now, less the fraction cut and the call's time.
    assert 88.0 < info.value.retry_after <= 90.0


def test_429_retry_after_http_date_in_the_past_is_zero():
    header = format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)

    error = error_from_response(429, None, {"Retry-After": header})

    assert error.retry_after == 0.0


def test_429_retry_after_from_body(rsps, client):
    body = _error_body(429, "LIMITS_REACHED", "Too many requests", retry_after=33)
    rsps.post(f"{BASE}/tasks/T1", status=429, json=body)

    with pytest.raises(TodoistRateLimitedError) as info:
        client.update_task("T1", {"content": "x"})
    assert info.value.retry_after == 33.0


def test_429_without_retry_after_defaults_to_60(rsps, client):
    rsps.post(f"{BASE}/tasks/T1", status=429, body="Too Many Requests")

    with pytest.raises(TodoistRateLimitedError) as info:
        client.update_task("T1", {"content": "x"})
    assert info.value.retry_after == 60.0


def test_429_unusable_header_falls_back_to_body():
    body = _error_body(429, "LIMITS_REACHED", "Too many", retry_after=5)

    error = error_from_response(429, body, {"retry-after": "soon"})

    assert error.retry_after == 5.0


@pytest.mark.parametrize(
    ("exc", "lead"),
    [
        (requests.ReadTimeout("read timed out"), "Todoist did not answer in time"),
        (requests.ConnectTimeout("connect timed out"), "Todoist did not answer in time"),
        (requests.ConnectionError("Connection refused"), "Could not reach Todoist"),
        (
            requests.ConnectionError("RemoteDisconnected('Remote end closed connection')"),
            "Could not reach Todoist",
        ),
        (requests.exceptions.ChunkedEncodingError("Connection broken"), "Could not reach Todoist"),
    ],
    ids=["read-timeout", "connect-timeout", "refused", "dropped", "broken-body"],
)
def test_transport_failures_are_transient(rsps, client, exc, lead):
    rsps.post(f"{BASE}/tasks/T1", body=exc)

    with pytest.raises(TodoistTransientError) as info:
        client.update_task("T1", {"content": "x"})

    error = info.value
    assert error.status is None
    assert error.detail.startswith(f"{lead}: {type(exc).__name__}: ")
    # The requests exception holds the prepared request (with its headers): not chained.
    assert error.__cause__ is None
    assert error.__context__ is None


@pytest.mark.parametrize(
    ("method", "call", "url", "body", "content_type"),
    [
        ("POST", "update", "/tasks/T1", "<html>gateway</html>", "text/html"),
        ("POST", "update", "/tasks/T1", json.dumps({"content": "no id"}), "application/json"),
        ("POST", "update", "/tasks/T1", "", "application/json"),
        ("POST", "update", "/tasks/T1", "null", "application/json"),
        ("POST", "update", "/tasks/T1", json.dumps([TASK]), "application/json"),
        ("POST", "update", "/tasks/T1", "{truncated", "application/json"),
        ("GET", "user", "/user", json.dumps({"name": "no id"}), "application/json"),
    ],
    ids=[
        "update-html",
        "update-no-id",
        "update-empty",
        "update-null",
        "update-list",
        "update-truncated",
        "user-no-id",
    ],
)
def test_garbled_2xx_is_transient(rsps, client, method, call, url, body, content_type):
    rsps.add(method, f"{BASE}{url}", status=200, body=body, content_type=content_type)
    calls = {
        "update": lambda: client.update_task("T1", {"content": "x"}),
        "user": client.get_user,
    }

    with pytest.raises(TodoistTransientError) as info:
        calls[call]()
    assert info.value.status == 200
    assert "without the expected body" in info.value.detail


# --------------------------------------------------------------------------------------------------
# error_from_response directly


def test_error_from_response_accepts_text_bytes_and_none_bodies():
    as_text = json.dumps(_error_body(400, "INVALID_ARGUMENT_VALUE", "Bad", argument="labels"))

    from_text = error_from_response(400, as_text)
    from_bytes = error_from_response(400, as_text.encode())
    from_none = error_from_response(400, None)

    assert type(from_text) is TodoistValidationError
    assert from_text.argument == "labels"
    assert (
        from_text.detail == "Todoist rejected the request (400 INVALID_ARGUMENT_VALUE): labels: Bad"
    )
    assert from_bytes.detail == from_text.detail
    assert from_none.detail == "Todoist rejected the request (400)"
    assert from_none.error_tag is None
    assert from_none.argument is None


def test_error_from_response_clips_long_plain_text():
    error = error_from_response(502, "x" * 5000)

    assert type(error) is TodoistTransientError
    assert len(error.detail) < 300


def test_error_from_response_without_argument_uses_error_message():
    error = error_from_response(400, {"error": "Invalid request", "error_tag": "BAD"})

    assert error.detail == "Todoist rejected the request (400 BAD): Invalid request"


def test_error_from_response_redacts_bearer_values_it_cannot_know():
    # error_from_response has no token; any echoed "Bearer <value>" is still scrubbed.
    error = error_from_response(400, "bad header Authorization: Bearer abc123XYZ")

    assert "abc123XYZ" not in error.detail
    assert error.detail == (
        "Todoist rejected the request (400): bad header Authorization: Bearer [redacted]"
    )


def test_errors_survive_pickling():
    error = error_from_response(429, None, {"Retry-After": "4"})

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is TodoistRateLimitedError
    assert copy.retry_after == 4.0
    assert copy.status == 429
    assert copy.detail == error.detail


def test_error_class_hierarchy():
    for cls in (
        TodoistTransientError,
        TodoistRateLimitedError,
        TodoistAuthError,
        TodoistNotFoundError,
        TodoistValidationError,
        TodoistConfigurationError,
    ):
        assert issubclass(cls, TodoistError)
    # Rate limiting is its own branch: the engine must not treat it as a plain transient error.
    assert not issubclass(TodoistRateLimitedError, TodoistTransientError)


# --------------------------------------------------------------------------------------------------
# Construction, logging and secrets


def test_constructor_validates_token_without_echoing_it():
    bad = "bad token\nwith-newline-SECRET"
    with pytest.raises(ValueError) as info:
        TodoistClient(token=bad, base_url=BASE)
    assert "SECRET" not in str(info.value)
    with pytest.raises(ValueError):
        TodoistClient(token="", base_url=BASE)
    with pytest.raises(ValueError):
        TodoistClient(token=TOKEN, base_url="api.todoist.com/api/v1")


def test_repr_hides_token(client):
    assert TOKEN not in repr(client)
    assert TOKEN not in str(client)
    assert "todoist.test" in repr(client)
    assert TOKEN not in repr(vars(client))


def test_one_debug_line_per_request(rsps, client, caplog):
    caplog.set_level(logging.DEBUG, logger="todoist_sync.todoist")
    rsps.post(f"{BASE}/tasks/T1", json=TASK)
    rsps.post(f"{BASE}/tasks/T2", status=404, json=_error_body(404, "NOT_FOUND", "nope"))

    client.update_task("T1", {"content": "x"})
    with pytest.raises(TodoistNotFoundError):
        client.update_task("T2", {"content": "x"})

    records = [r for r in caplog.records if r.name == "todoist_sync.todoist"]
    assert len(records) == 2
    assert all(r.levelno == logging.DEBUG for r in records)
    assert records[0].args[:3] == ("POST", "/tasks/T1", 200)
    assert records[1].args[:3] == ("POST", "/tasks/T2", 404)
    assert isinstance(records[0].args[3], float)
    assert records[0].getMessage().startswith("todoist POST /tasks/T1 -> 200 in ")
    assert records[0].getMessage().endswith(" ms")


def _failing_paths() -> list[tuple[int | None, object]]:
    """(status, body) pairs that each make POST /tasks/T1 raise; None status = transport failure.

    Bodies and transport messages deliberately echo the token, so only redaction keeps it out.
    """
    echo = f"token {TOKEN} / Authorization: Bearer {TOKEN}"
    paths: list[tuple[int | None, object]] = []
    for status in (400, 401, 403, 404, 405, 410, 422, 429, 500, 503):
        body = _error_body(status, "SOME_TAG", echo, argument=f"arg-{TOKEN}", explanation=echo)
        paths.append((status, body))
    paths += [
        (400, echo),
        (500, echo),
        (403, _error_body(403, None, echo)),
        (403, _error_body(403, "MAX_ITEMS_LIMIT_REACHED", echo)),
        (None, requests.ReadTimeout(f"read timed out for {echo}")),
        (None, requests.ConnectTimeout(f"connect failed {echo}")),
        (None, requests.ConnectionError(f"refused {echo}")),
        (None, requests.exceptions.InvalidURL(f"bad url {echo}")),
        (200, f"<html>{echo}</html>"),
    ]
    return paths


def test_token_never_leaks_into_errors_or_logs(rsps, client, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"{BASE}/tasks/T1"
    errors: list[TodoistError] = []

    for status, body in _failing_paths():
        rsps.reset()
        if status is None:
            rsps.post(url, body=body)
        elif isinstance(body, dict):
            rsps.post(url, status=status, json=body, headers={"X-Echo": TOKEN})
        else:
            rsps.post(url, status=status, body=body, content_type="text/html")
        with pytest.raises(TodoistError) as info:
            client.update_task("T1", {"content": "x"})
        errors.append(info.value)

    # sync: whole-request failure and per-command errors echoing the token
    rsps.reset()
    rsps.post(f"{BASE}/sync", status=401, body=f"Bearer {TOKEN}")
    with pytest.raises(TodoistAuthError) as info:
        client.sync(_commands(1))
    errors.append(info.value)
    rsps.reset()
    rsps.post(
        f"{BASE}/sync",
        json={"sync_status": {"u0": _error_body(400, "X", TOKEN, argument=TOKEN)}},
    )
    errors.append(client.sync(_commands(1)).sync_status["u0"])
    rsps.reset()
    rsps.get(f"{BASE}/tasks", json={"results": [], "next_cursor": "loop"})
    rsps.get(f"{BASE}/tasks", json={"results": [], "next_cursor": "loop"})
    with pytest.raises(TodoistTransientError) as info:
        client.list_tasks(ids=["a"])
    errors.append(info.value)

    assert len(errors) == 22
    for error in errors:
        assert isinstance(error, TodoistError)
        texts = [str(error), repr(error), repr(error.args), error.detail, repr(vars(error))]
        for text in texts:
            assert TOKEN not in text, f"{type(error).__name__} leaks the token: {text}"
        assert error.__cause__ is None
        assert error.__context__ is None
    # The redaction marker shows the body really echoed it.
    assert any("[redacted]" in error.detail for error in errors)

    assert caplog.records, "expected DEBUG records"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(record.args)
    assert TOKEN not in caplog.text
