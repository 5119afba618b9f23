"""Tests of the local Todoist API v1 simulator (todoist_sim), driven over real HTTP."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.simulator.client import OTHER_TOKEN, TOKEN, sync
from todoist_sim import SimConfig, Simulator, main

REPO_ROOT = Path(__file__).resolve().parents[2]


def create(sim: Simulator, http: requests.Session, **fields: Any) -> dict[str, Any]:
    fields.setdefault("content", "Buy milk")
    response = http.post(f"{sim.url}/tasks", json=fields, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


# ----- REST tasks --------------------------------------------------------------


def test_create_answers_the_full_task(sim: Simulator, http: requests.Session) -> None:
    task = create(
        sim,
        http,
        content="Write report",
        description="quarterly",
        priority=3,
        due_date="2024-02-29",
        labels=["work"],
        unknown_field="ignored",
    )
    assert len(task["id"]) == 16 and task["id"].isalnum()
    assert task["content"] == "Write report"
    assert task["description"] == "quarterly"
    assert task["priority"] == 3
    assert task["due"] == {
        "date": "2024-02-29",
        "timezone": None,
        "string": "2024-02-29",
        "is_recurring": False,
        "lang": "en",
    }
    assert task["labels"] == ["work"]
    assert task["project_id"] == sim.inbox_id("alice")  # the account's Inbox by default
    assert task["checked"] is False and task["is_deleted"] is False
    assert task["completed_at"] is None and task["added_at"].endswith("Z")
    assert "unknown_field" not in task
    assert sim.tasks("alice") == [task]


def test_create_defaults(sim: Simulator, http: requests.Session) -> None:
    task = create(sim, http, content="Plain")
    assert (task["description"], task["priority"], task["due"], task["labels"]) == (
        "",
        1,
        None,
        [],
    )


def test_update_is_partial(sim: Simulator, http: requests.Session) -> None:
    task = create(sim, http, content="Old", description="keep me", labels=["a"])
    response = http.post(f"{sim.url}/tasks/{task['id']}", json={"content": "New", "priority": 4})
    assert response.status_code == 200
    updated = response.json()
    assert updated["content"] == "New" and updated["priority"] == 4
    assert updated["description"] == "keep me" and updated["labels"] == ["a"]
    assert sim.tasks("alice")[0]["content"] == "New"


def test_close_reopen_and_get(sim: Simulator, http: requests.Session) -> None:
    task = create(sim, http)
    url = f"{sim.url}/tasks/{task['id']}"
    assert http.get(url).json()["id"] == task["id"]

    closed = http.post(f"{url}/close")
    assert closed.status_code == 204 and closed.content == b""
    stored = sim.tasks("alice")[0]
    assert stored["checked"] is True and stored["completed_at"] is not None
    assert http.get(url).status_code == 404  # GET answers active tasks only

    assert http.post(f"{url}/reopen").status_code == 204
    stored = sim.tasks("alice")[0]
    assert stored["checked"] is False and stored["completed_at"] is None
    assert http.get(url).status_code == 200


def test_delete_hides_the_task(sim: Simulator, http: requests.Session) -> None:
    task = create(sim, http)
    url = f"{sim.url}/tasks/{task['id']}"
    assert http.delete(url).status_code == 204
    assert sim.tasks("alice")[0]["is_deleted"] is True
    assert http.get(url).status_code == 404
    assert http.post(url, json={"content": "x"}).status_code == 404
    assert http.post(f"{url}/close").status_code == 404
    assert http.get(f"{sim.url}/tasks").json()["results"] == []


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("POST", ""), ("DELETE", ""), ("POST", "/close"), ("POST", "/reopen")],
)
def test_unknown_task_is_404(
    sim: Simulator, http: requests.Session, method: str, suffix: str
) -> None:
    response = http.request(method, f"{sim.url}/tasks/NoSuchTask000000{suffix}", json={})
    assert response.status_code == 404
    body = response.json()
    assert body["error_tag"] == "NOT_FOUND" and body["http_code"] == 404
    assert isinstance(body["error_code"], int)


def test_list_pages_with_cursor_and_filters_ids(sim: Simulator, http: requests.Session) -> None:
    ids = [create(sim, http, content=f"task {i}")["id"] for i in range(5)]
    http.post(f"{sim.url}/tasks/{ids[1]}/close")  # closed tasks are not listed

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = http.get(f"{sim.url}/tasks", params=params).json()
        seen += [t["id"] for t in body["results"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [ids[0], ids[2], ids[3], ids[4]]
    assert pages == 2

    body = http.get(f"{sim.url}/tasks", params={"ids": f"{ids[4]},{ids[0]},{ids[1]}"}).json()
    assert sorted(t["id"] for t in body["results"]) == sorted([ids[0], ids[4]])
    assert body["next_cursor"] is None


@pytest.mark.parametrize(("param", "value"), [("limit", "0"), ("limit", "201"), ("cursor", "!!")])
def test_list_rejects_bad_paging(
    sim: Simulator, http: requests.Session, param: str, value: str
) -> None:
    response = http.get(f"{sim.url}/tasks", params={param: value})
    assert response.status_code == 400
    assert response.json()["error_extra"]["argument"] == param


def test_user_endpoint(sim: Simulator, http: requests.Session) -> None:
    body = http.get(f"{sim.url}/user").json()
    assert body["email"] == "sim@example.invalid"
    assert body["full_name"] == "Simulator user"
    assert body["id"]


# ----- auth and isolation ------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Token {TOKEN}"}],
)
def test_missing_or_wrong_token_is_401(sim: Simulator, headers: dict[str, str]) -> None:
    response = requests.post(f"{sim.url}/tasks", json={"content": "x"}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": "Invalid token",
        "error_code": 401,
        "error_tag": "AUTH_INVALID_TOKEN",
        "http_code": 401,
        "error_extra": {},
    }
    assert sim.tasks("alice") == [] and sim.tasks("bob") == []
    assert sim.stats()["responses_401"] == 1


def test_two_tokens_are_isolated(sim: Simulator, http: requests.Session) -> None:
    task = create(sim, http, content="alice's")
    bob = requests.Session()
    bob.headers["Authorization"] = f"Bearer {OTHER_TOKEN}"
    bob_task = bob.post(f"{sim.url}/tasks", json={"content": "bob's"}).json()

    assert bob.get(f"{sim.url}/tasks/{task['id']}").status_code == 404
    assert bob.post(f"{sim.url}/tasks/{task['id']}/close").status_code == 404
    assert [t["id"] for t in bob.get(f"{sim.url}/tasks").json()["results"]] == [bob_task["id"]]
    assert [t["content"] for t in sim.tasks("alice")] == ["alice's"]
    # tasks() also accepts the token itself.
    assert [t["content"] for t in sim.tasks(OTHER_TOKEN)] == ["bob's"]


def test_list_of_tokens_names_accounts_by_last_four() -> None:
    with Simulator(SimConfig(), ["first-token-9abc"]) as simulator:
        assert simulator.accounts == ["user-9abc"]
        response = requests.get(
            f"{simulator.url}/user", headers={"Authorization": "Bearer first-token-9abc"}
        )
        assert response.status_code == 200


# ----- X-Request-Id dedupe -----------------------------------------------------


def test_request_id_dedupes_create_when_switched_on(sim: Simulator, http: requests.Session) -> None:
    sim.configure(request_id_dedupe=True)  # off by default: Todoist API v1 ignores the header
    headers = {"X-Request-Id": "3f1c2e9a-0000-4000-8000-000000000001"}
    first = http.post(f"{sim.url}/tasks", json={"content": "once"}, headers=headers)
    again = http.post(f"{sim.url}/tasks", json={"content": "once"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert len(sim.tasks("alice")) == 1
    assert sim.stats()["dedupe_request_id"] == 1

    # Another request id, or the same id under another token, creates a new task.
    http.post(f"{sim.url}/tasks", json={"content": "twice"}, headers={"X-Request-Id": "other"})
    assert len(sim.tasks("alice")) == 2
    bob = {"Authorization": f"Bearer {OTHER_TOKEN}", **headers}
    assert requests.post(f"{sim.url}/tasks", json={"content": "b"}, headers=bob).ok
    assert len(sim.tasks("bob")) == 1


def test_request_id_longer_than_36_bytes_is_rejected(
    sim: Simulator, http: requests.Session
) -> None:
    sim.configure(request_id_dedupe=True)
    response = http.post(
        f"{sim.url}/tasks", json={"content": "x"}, headers={"X-Request-Id": "x" * 37}
    )
    assert response.status_code == 400
    assert response.json()["error_extra"]["argument"] == "X-Request-Id"
    assert sim.tasks("alice") == []


# ----- validation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "argument"),
    [
        ({}, "content"),
        ({"content": ""}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "x" * 501}, "content"),
        ({"content": 5}, "content"),
        ({"content": "ok", "description": "d" * 16384}, "description"),
        ({"content": "ok", "priority": 5}, "priority"),
        ({"content": "ok", "priority": 0}, "priority"),
        ({"content": "ok", "priority": "2"}, "priority"),
        ({"content": "ok", "priority": True}, "priority"),
        ({"content": "ok", "due_date": "2023-02-29"}, "due_date"),
        ({"content": "ok", "due_date": "tomorrow"}, "due_date"),
        ({"content": "ok", "due_string": "every monday"}, "due_string"),
        ({"content": "ok", "labels": "work"}, "labels"),
        ({"content": "ok", "labels": [1]}, "labels"),
    ],
)
def test_create_validation_names_the_argument(
    sim: Simulator, http: requests.Session, fields: dict[str, Any], argument: str
) -> None:
    response = http.post(f"{sim.url}/tasks", json=fields)
    assert response.status_code == 400
    body = response.json()
    assert body["error_tag"] == "INVALID_ARGUMENT_VALUE"
    assert body["error_code"] == 20 and body["http_code"] == 400
    assert body["error_extra"]["argument"] == argument
    assert body["error_extra"]["explanation"]
    assert sim.tasks("alice") == []


def test_boundary_lengths_are_accepted(sim: Simulator, http: requests.Session) -> None:
    task = create(sim, http, content="x" * 500, description="d" * 16383, priority=4)
    assert len(task["content"]) == 500 and len(task["description"]) == 16383


def test_update_validation_changes_nothing(sim: Simulator, http: requests.Session) -> None:
    task = create(sim, http, content="keep")
    response = http.post(f"{sim.url}/tasks/{task['id']}", json={"content": "new", "priority": 9})
    assert response.status_code == 400
    assert response.json()["error_extra"]["argument"] == "priority"
    assert sim.tasks("alice")[0]["content"] == "keep"


def test_non_json_body_is_400(sim: Simulator, http: requests.Session) -> None:
    response = http.post(
        f"{sim.url}/tasks", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error_extra"]["argument"] == "body"


# ----- due dates ---------------------------------------------------------------


def test_rest_due_string_no_date_clears_due(sim: Simulator, http: requests.Session) -> None:
    task = create(sim, http, due_string="2025-01-31")
    assert task["due"]["date"] == "2025-01-31"
    response = http.post(f"{sim.url}/tasks/{task['id']}", json={"due_string": "no date"})
    assert response.status_code == 200
    assert response.json()["due"] is None
    assert sim.tasks("alice")[0]["due"] is None


def test_sync_due_null_clears_due(sim: Simulator, http: requests.Session) -> None:
    task = create(sim, http, due_date="2025-03-01")
    answer = sync(
        sim,
        http,
        [{"type": "item_update", "uuid": "u-1", "args": {"id": task["id"], "due": None}}],
    )
    assert answer["sync_status"] == {"u-1": "ok"}
    assert sim.tasks("alice")[0]["due"] is None


# ----- /sync -------------------------------------------------------------------


def test_sync_batch_with_mixed_results(sim: Simulator, http: requests.Session) -> None:
    existing = create(sim, http, content="existing", labels=["old"])
    commands = [
        {
            "type": "item_add",
            "uuid": "c1",
            "temp_id": "tmp-1",
            "args": {
                "content": "from sync",
                "priority": 2,
                "due": {"date": "2025-05-05"},
                "labels": ["x"],
            },
        },
        {"type": "item_add", "uuid": "c2", "temp_id": "tmp-2", "args": {"content": ""}},
        {"type": "item_update", "uuid": "c3", "args": {"id": "missing0000000000"}},
        {
            "type": "item_update",
            "uuid": "c4",
            "args": {"id": existing["id"], "labels": ["new1", "new2"], "description": "d"},
        },
        {"type": "item_close", "uuid": "c5", "args": {"id": "tmp-1"}},  # by temp_id
        {"type": "no_such_command", "uuid": "c6", "args": {}},
    ]
    answer = sync(sim, http, commands)

    status = answer["sync_status"]
    assert status["c1"] == "ok" and status["c4"] == "ok" and status["c5"] == "ok"
    assert status["c2"]["http_code"] == 400
    assert status["c2"]["error_extra"]["argument"] == "content"
    assert status["c3"] == {
        "error": "Item not found",
        "error_code": 22,
        "error_tag": "ITEM_NOT_FOUND",
        "http_code": 404,
        "error_extra": {},
    }
    assert status["c6"]["http_code"] == 400
    assert set(status["c2"]) == {"error", "error_code", "error_tag", "http_code", "error_extra"}
    assert list(answer["temp_id_mapping"]) == ["tmp-1"]
    assert answer["sync_token"] and answer["full_sync"] is False

    tasks = {t["id"]: t for t in sim.tasks("alice")}
    added = tasks[answer["temp_id_mapping"]["tmp-1"]]
    assert added["content"] == "from sync" and added["priority"] == 2
    assert added["due"]["date"] == "2025-05-05" and added["checked"] is True
    assert tasks[existing["id"]]["labels"] == ["new1", "new2"]  # replaced, not merged
    assert tasks[existing["id"]]["description"] == "d"
    assert len(tasks) == 2
    assert sim.stats()["sync_commands_executed"] == 6
    assert sim.stats()["sync_commands_failed"] == 3


def test_sync_complete_uncomplete_reopen_delete(sim: Simulator, http: requests.Session) -> None:
    task_id = create(sim, http)["id"]

    def run(kind: str, cmd_uuid: str) -> None:
        answer = sync(sim, http, [{"type": kind, "uuid": cmd_uuid, "args": {"id": task_id}}])
        assert answer["sync_status"][cmd_uuid] == "ok"

    run("item_complete", "a")
    assert sim.tasks("alice")[0]["checked"] is True
    run("item_uncomplete", "b")
    assert sim.tasks("alice")[0]["checked"] is False
    run("item_close", "c")
    run("item_reopen", "d")
    assert sim.tasks("alice")[0]["checked"] is False
    run("item_delete", "e")
    assert sim.tasks("alice")[0]["is_deleted"] is True
    answer = sync(sim, http, [{"type": "item_close", "uuid": "f", "args": {"id": task_id}}])
    assert answer["sync_status"]["f"]["http_code"] == 404


@pytest.mark.parametrize("replay", [True, False])
def test_sync_uuid_dedupe(sim: Simulator, http: requests.Session, replay: bool) -> None:
    sim.configure(replay_temp_id_mapping=replay)
    command = {"type": "item_add", "uuid": "same-uuid", "temp_id": "t1", "args": {"content": "a"}}
    first = sync(sim, http, [command])
    second = sync(sim, http, [command])

    assert len(sim.tasks("alice")) == 1
    assert first["sync_status"] == second["sync_status"] == {"same-uuid": "ok"}
    real_id = first["temp_id_mapping"]["t1"]
    if replay:
        assert second["temp_id_mapping"] == {"t1": real_id}
    else:
        assert second["temp_id_mapping"] == {}
    stats = sim.stats()
    assert stats["dedupe_sync_uuid"] == 1 and stats["sync_commands_executed"] == 1


def test_sync_replays_a_stored_failure(sim: Simulator, http: requests.Session) -> None:
    command = {"type": "item_close", "uuid": "fail-once", "args": {"id": "nope"}}
    first = sync(sim, http, [command])
    create(sim, http)
    second = sync(sim, http, [command])
    assert first["sync_status"]["fail-once"]["http_code"] == 404
    assert second["sync_status"] == first["sync_status"]
    assert sim.stats()["sync_commands_executed"] == 1


def test_sync_more_than_100_commands_is_rejected_whole(
    sim: Simulator, http: requests.Session
) -> None:
    commands = [
        {"type": "item_add", "uuid": f"u{i}", "args": {"content": f"t{i}"}} for i in range(101)
    ]
    response = http.post(f"{sim.url}/sync", json={"commands": commands})
    assert response.status_code == 400
    assert response.json()["error_extra"]["argument"] == "commands"
    assert sim.tasks("alice") == []

    assert sync(sim, http, commands[:100])["sync_status"]["u99"] == "ok"
    assert len(sim.tasks("alice")) == 100


def test_sync_malformed_command_rejects_whole_request(
    sim: Simulator, http: requests.Session
) -> None:
    commands = [
        {"type": "item_add", "uuid": "ok-1", "args": {"content": "a"}},
        {"type": "item_add", "args": {"content": "no uuid"}},
    ]
    response = http.post(f"{sim.url}/sync", json={"commands": commands})
    assert response.status_code == 400
    assert sim.tasks("alice") == []


def test_sync_accepts_form_encoded_commands(sim: Simulator, http: requests.Session) -> None:
    commands = [{"type": "item_add", "uuid": "f1", "temp_id": "ft", "args": {"content": "form"}}]
    response = http.post(f"{sim.url}/sync", data={"commands": json.dumps(commands)})
    assert response.status_code == 200
    assert response.json()["sync_status"] == {"f1": "ok"}
    assert [t["content"] for t in sim.tasks("alice")] == ["form"]


# ----- faults ------------------------------------------------------------------


def test_error_rate_answers_5xx_before_doing_anything(
    sim: Simulator, http: requests.Session
) -> None:
    sim.configure(error_rate=1.0)
    response = http.post(f"{sim.url}/tasks", json={"content": "x"})
    assert response.status_code == 503
    assert response.json()["error_tag"] == "SERVICE_UNAVAILABLE"
    # Even a bad token gets the 5xx: the fault comes first.
    assert requests.get(f"{sim.url}/user").status_code == 503
    assert sim.tasks("alice") == []
    # Control endpoints are never faulted.
    assert requests.get(f"{sim.root_url}/__sim__/stats").status_code == 200
    assert sim.stats()["responses_5xx"] == 2

    sim.configure(error_rate=0.0)
    assert http.post(f"{sim.url}/tasks", json={"content": "x"}).status_code == 200


def test_error_status_is_configurable(sim: Simulator, http: requests.Session) -> None:
    sim.configure(error_rate=1.0, error_status=500)
    assert http.get(f"{sim.url}/tasks").status_code == 500


def test_injected_429_has_retry_after(sim: Simulator, http: requests.Session) -> None:
    sim.configure(rate_limit_429_rate=1.0, retry_after_seconds=3)
    response = http.post(f"{sim.url}/tasks", json={"content": "x"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    body = response.json()
    assert body["error_tag"] == "LIMITS_REACHED" and body["error_code"] == 35
    assert body["http_code"] == 429 and body["error_extra"]["retry_after"] == 3
    assert sim.tasks("alice") == []
    stats = sim.stats()
    assert stats["responses_429"] == 1 and stats["responses_429_injected"] == 1


def test_request_limit_window_per_token(sim: Simulator, http: requests.Session) -> None:
    sim.configure(request_limit=2, limit_window_seconds=0.5)
    assert http.get(f"{sim.url}/tasks").status_code == 200
    assert http.get(f"{sim.url}/tasks").status_code == 200
    refused = http.post(f"{sim.url}/tasks", json={"content": "x"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"  # whole seconds, rounded up
    assert refused.json()["error_extra"]["retry_after"] == 1
    assert sim.tasks("alice") == []

    # The window is per token: bob still has his own budget.
    bob = {"Authorization": f"Bearer {OTHER_TOKEN}"}
    assert requests.get(f"{sim.url}/tasks", headers=bob).status_code == 200

    time.sleep(0.6)
    assert http.get(f"{sim.url}/tasks").status_code == 200
    assert sim.stats()["responses_429_window"] == 1


def test_lost_answer_applies_then_drops_the_connection(
    sim: Simulator, http: requests.Session
) -> None:
    sim.configure(lost_answer_rate=1.0, request_id_dedupe=True)
    request_id = {"X-Request-Id": "lost-1"}
    with pytest.raises(requests.ConnectionError):
        http.post(f"{sim.url}/tasks", json={"content": "applied"}, headers=request_id)
    assert [t["content"] for t in sim.tasks("alice")] == ["applied"]
    # Reads are not mutating, so they are answered.
    assert http.get(f"{sim.url}/tasks").status_code == 200

    task_id = sim.tasks("alice")[0]["id"]
    with pytest.raises(requests.ConnectionError):
        sync(sim, http, [{"type": "item_close", "uuid": "lost-close", "args": {"id": task_id}}])
    assert sim.tasks("alice")[0]["checked"] is True
    assert sim.stats()["lost_answers"] == 2

    # A retry with the same request id gets the original answer, no second task.
    sim.configure(lost_answer_rate=0.0)
    retry = http.post(f"{sim.url}/tasks", json={"content": "applied"}, headers=request_id)
    assert retry.status_code == 200 and retry.json()["id"] == task_id
    assert len(sim.tasks("alice")) == 1


def test_latency_is_a_lower_bound(sim: Simulator, http: requests.Session) -> None:
    sim.configure(latency_ms=150)
    started = time.monotonic()
    assert http.get(f"{sim.url}/user").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_seed_makes_fault_pattern_and_ids_reproducible() -> None:
    def run() -> tuple[list[int], list[str]]:
        config = SimConfig(error_rate=0.5, seed=42)
        with Simulator(config, [TOKEN]) as simulator, requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {TOKEN}"
            codes = [
                session.post(f"{simulator.url}/tasks", json={"content": "x"}).status_code
                for _ in range(20)
            ]
            return codes, [t["id"] for t in simulator.tasks(TOKEN)]

    first, second = run(), run()
    assert first == second
    assert {200, 503} <= set(first[0])  # a 0.5 rate really mixes outcomes


# ----- stats, control endpoints, server behaviour --------------------------------


def test_stats_count_requests_by_kind(sim: Simulator, http: requests.Session) -> None:
    task = create(sim, http)
    http.post(f"{sim.url}/tasks/{task['id']}", json={"content": "u"})
    http.post(f"{sim.url}/tasks/{task['id']}/close")
    http.post(f"{sim.url}/tasks/{task['id']}/reopen")
    http.get(f"{sim.url}/tasks/{task['id']}")
    http.get(f"{sim.url}/tasks")
    http.get(f"{sim.url}/user")
    sync(sim, http, [{"type": "item_delete", "uuid": "d", "args": {"id": task["id"]}}])
    http.delete(f"{sim.url}/tasks/{task['id']}")  # already deleted -> 404
    requests.get(f"{sim.url}/user")  # 401

    stats = sim.stats()
    assert stats["requests_total"] == 10
    assert stats["requests_by_kind"] == {
        "create": 1,
        "update": 1,
        "close": 1,
        "reopen": 1,
        "move": 0,
        "get": 1,
        "list": 1,
        "delete": 1,
        "sync": 1,
        "user": 2,
        "projects": 0,
        "project_create": 0,
        "project_get": 0,
        "project_delete": 0,
        "project_archive": 0,
        "project_unarchive": 0,
        "completed": 0,
        "unknown": 0,
    }
    assert stats["sync_commands_executed"] == 1
    assert stats["responses_401"] == 1
    assert stats["responses_by_status"] == {"200": 6, "204": 2, "404": 1, "401": 1}
    assert stats["tasks_created"] == 1


def test_control_endpoints(sim: Simulator, http: requests.Session) -> None:
    create(sim, http, content="seen in state")
    root = f"{sim.root_url}/__sim__"

    state = requests.get(f"{root}/state").json()
    assert [t["content"] for t in state["tasks"]["alice"]] == ["seen in state"]
    assert state["tasks"]["bob"] == []
    assert state["stats"]["requests_by_kind"]["create"] == 1
    assert TOKEN not in str(state) and OTHER_TOKEN not in str(state)

    assert requests.get(f"{root}/stats").json()["tasks_created"] == 1

    changed = requests.post(f"{root}/config", json={"latency_ms": 5, "request_limit": 10})
    assert changed.status_code == 200
    assert changed.json()["latency_ms"] == 5 and changed.json()["request_limit"] == 10
    assert sim.config.request_limit == 10
    assert requests.get(f"{root}/config").json()["latency_ms"] == 5

    for bad in ({"error_rate": 2}, {"no_such_switch": 1}, {"request_limit": True}):
        response = requests.post(f"{root}/config", json=bad)
        assert response.status_code == 400, bad
    assert sim.config.error_rate == 0.0

    assert requests.post(f"{root}/reset").status_code == 200
    assert sim.tasks("alice") == []
    assert sim.stats()["requests_total"] == 0
    assert requests.get(f"{root}/nope").status_code == 404


def test_configure_rejects_unknown_fields(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="unknown"):
        sim.configure(speed=11)
    with pytest.raises(ValueError, match="lost_answer_rate"):
        sim.configure(lost_answer_rate=-0.1)


def test_keep_alive_reuses_one_connection(sim: Simulator, http: requests.Session) -> None:
    task = create(sim, http)
    http.post(f"{sim.url}/tasks/{task['id']}/close")  # 204 without a body
    http.get(f"{sim.url}/tasks")
    http.get(f"{sim.url}/tasks/{task['id']}")  # 404 with a body
    assert sim.stats()["connections_opened"] == 1


def test_concurrent_creates_are_all_kept(sim: Simulator) -> None:
    def worker() -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {TOKEN}"
            for i in range(25):
                session.post(f"{sim.url}/tasks", json={"content": f"c{i}"}).raise_for_status()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [t["id"] for t in sim.tasks("alice")]
    assert len(ids) == len(set(ids)) == 200


def test_verbose_log_never_contains_the_token() -> None:
    log = io.StringIO()
    with Simulator(SimConfig(), [TOKEN], verbose=True, log_stream=log) as simulator:
        requests.get(f"{simulator.url}/user", headers={"Authorization": f"Bearer {TOKEN}"})
        requests.get(f"{simulator.url}/user", headers={"Authorization": "Bearer bad-secret"})
    text = log.getvalue()
    assert "GET /api/v1/user -> 200" in text and "user-1111" in text
    assert "-> 401" in text
    assert TOKEN not in text and "bad-secret" not in text


def test_quiet_by_default(capfd: pytest.CaptureFixture[str]) -> None:
    with Simulator(SimConfig(), [TOKEN]) as simulator:
        requests.get(f"{simulator.url}/user", headers={"Authorization": f"Bearer {TOKEN}"})
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_stop_closes_idle_keep_alive_connections(http: requests.Session) -> None:
    simulator = Simulator(SimConfig(), [TOKEN]).start()
    assert http.get(f"{simulator.url}/user").status_code == 200
    simulator.stop()
    with pytest.raises(requests.ConnectionError):
        http.get(f"{simulator.url}/user", timeout=2)


# ----- safety and CLI ----------------------------------------------------------


def test_simulator_refuses_non_loopback_host() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        Simulator(SimConfig(), [TOKEN], host="0.0.0.0")
    with pytest.raises(ValueError, match="non-loopback"):
        Simulator(SimConfig(), [TOKEN], host="example.com")


def test_cli_refuses_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--host", "0.0.0.0", "--port", "0", "--token", TOKEN])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "non-loopback" in captured.err and "--allow-remote" in captured.err
    assert TOKEN not in captured.err + captured.out


def test_cli_requires_a_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TODOIST_SIM_TOKENS", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["--port", "0"])
    assert exit_info.value.code == 2
    assert "token" in capsys.readouterr().err


def test_cli_serves_prints_banner_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "todoist_sim", "--port", "0", "--token", TOKEN, "--seed", "1"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "NOT Todoist" in banner and "simulator" in banner.lower()
        assert TOKEN not in banner
        url = banner.split("serving ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v1")
        response = requests.get(f"{url}/user", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        out, err = process.communicate(timeout=5)
        assert out == "" and err == ""  # quiet without --verbose
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
