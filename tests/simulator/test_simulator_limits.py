"""Tests of the simulator's Todoist limits, worst-case switches, projects, incremental reads and
person edits (todoist_sim; NOT Todoist), driven over real HTTP."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import requests

from tests.simulator.client import OTHER_TOKEN, TOKEN, sync
from todoist_sim import WORST_CASE, ApiError, SimConfig, Simulator
from todoist_sim.cli import parse_config

ITEM_NOT_FOUND = {
    "error": "Item not found",
    "error_code": 22,
    "error_tag": "ITEM_NOT_FOUND",
    "http_code": 404,
    "error_extra": {},
}
PROJECT_NOT_FOUND = {
    "error": "Project not found",
    "error_code": 21,
    "error_tag": "PROJECT_NOT_FOUND",
    "http_code": 404,
    "error_extra": {},
}


def project_full(max_count: int) -> dict[str, Any]:
    return {
        "error": "Maximum number of items per project reached",
        "error_code": 49,
        "error_tag": "MAX_ITEMS_LIMIT_REACHED",
        "http_code": 403,
        "error_extra": {"max_count": max_count},
    }


def read(sim: Simulator, http: requests.Session, token: str, types: list[str]) -> dict:
    response = http.post(
        f"{sim.url}/sync", json={"sync_token": token, "resource_types": types}, timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()


def add(cmd_uuid: str, content: str, temp_id: str | None = None, **args: Any) -> dict:
    command: dict[str, Any] = {
        "type": "item_add",
        "uuid": cmd_uuid,
        "args": {"content": content, **args},
    }
    if temp_id:
        command["temp_id"] = temp_id
    return command


def live(sim: Simulator, account: str = "alice") -> list[dict[str, Any]]:
    return [t for t in sim.tasks(account) if not t["is_deleted"]]


# ----- switches and WORST_CASE -------------------------------------------------


def test_defaults_are_the_worst_case_and_todoists_values() -> None:
    config = SimConfig()
    assert (
        config.request_id_dedupe,
        config.project_task_cap,
        config.max_body_bytes,
        config.replay_temp_id_mapping,
    ) == (False, 300, 1048576, False)
    assert WORST_CASE == {
        "request_id_dedupe": False,
        "project_task_cap": 300,
        "max_body_bytes": 1048576,
        "replay_temp_id_mapping": False,
        "full_sync_limit": 100,
        "full_sync_window_seconds": 900.0,
    }
    with Simulator(SimConfig(latency_ms=1), [TOKEN], worst_case=True) as simulator:
        assert simulator.config.project_task_cap == 300 and simulator.config.latency_ms == 1
        assert simulator.config.request_id_dedupe is False
    assert parse_config(["--worst-case"]).as_dict() == {**SimConfig().as_dict(), **WORST_CASE}
    # Explicit flags win over --worst-case.
    assert parse_config(["--worst-case", "--project-task-cap", "5"]).project_task_cap == 5
    assert parse_config(["--max-body-bytes", "10"]).max_body_bytes == 10
    assert parse_config(["--no-request-id-dedupe"]).request_id_dedupe is False
    assert parse_config(["--request-id-dedupe"]).request_id_dedupe is True
    assert parse_config(["--replay-temp-id-mapping"]).replay_temp_id_mapping is True
    assert parse_config(["--project-task-cap", "0"]).project_task_cap is None


def test_new_switches_change_at_runtime_and_are_validated(sim: Simulator) -> None:
    root = f"{sim.root_url}/__sim__"
    changed = requests.post(f"{root}/config", json={"project_task_cap": 2, "max_body_bytes": 9})
    assert changed.status_code == 200 and changed.json()["project_task_cap"] == 2
    assert sim.config.max_body_bytes == 9
    for bad in (
        {"project_task_cap": 0},
        {"max_body_bytes": True},
        {"request_id_dedupe": 1},
        {"replay_temp_id_mapping": "no"},
    ):
        assert requests.post(f"{root}/config", json=bad).status_code == 400, bad
    worst = requests.post(f"{root}/config/worst-case")
    assert worst.status_code == 200
    assert {k: worst.json()[k] for k in WORST_CASE} == WORST_CASE
    assert sim.config.project_task_cap == 300


# ----- 1. X-Request-Id ---------------------------------------------------------


def test_without_request_id_dedupe_a_retried_create_duplicates(
    sim: Simulator, http: requests.Session
) -> None:
    sim.configure(request_id_dedupe=False)
    headers = {"X-Request-Id": "3f1c2e9a-0000-4000-8000-000000000001"}
    first = http.post(f"{sim.url}/tasks", json={"content": "once"}, headers=headers)
    again = http.post(f"{sim.url}/tasks", json={"content": "once"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] != again.json()["id"]
    assert [t["content"] for t in sim.tasks("alice")] == ["once", "once"]
    # v1 ignores the header entirely, so its length is not checked either.
    long_id = http.post(
        f"{sim.url}/tasks", json={"content": "x"}, headers={"X-Request-Id": "x" * 37}
    )
    assert long_id.status_code == 200
    assert sim.stats()["dedupe_request_id"] == 0


# ----- 2. temp_id scope ----------------------------------------------------------


def test_temp_id_resolves_only_inside_its_own_request(
    sim: Simulator, http: requests.Session
) -> None:
    first = sync(
        sim,
        http,
        [
            {"type": "project_add", "uuid": "p", "temp_id": "tp", "args": {"name": "Work"}},
            add("a", "task", "tt", project_id="tp"),
            {"type": "item_update", "uuid": "u", "args": {"id": "tt", "priority": 4}},
        ],
    )
    assert first["sync_status"] == {"p": "ok", "a": "ok", "u": "ok"}
    task_id, project_id = first["temp_id_mapping"]["tt"], first["temp_id_mapping"]["tp"]
    task = sim.tasks("alice")[0]
    assert (task["id"], task["project_id"], task["priority"]) == (task_id, project_id, 4)

    later = sync(
        sim,
        http,
        [
            {"type": "item_close", "uuid": "c", "args": {"id": "tt"}},
            add("a2", "into old temp project", project_id="tp"),
        ],
    )
    assert later["sync_status"] == {"c": ITEM_NOT_FOUND, "a2": PROJECT_NOT_FOUND}
    assert later["temp_id_mapping"] == {}
    assert [t["checked"] for t in sim.tasks("alice")] == [False]


# ----- 3. replayed item_add --------------------------------------------------------


@pytest.mark.parametrize("replay", [True, False])
def test_replayed_item_add_answers_ok_and_maps_only_if_switched_on(
    sim: Simulator, http: requests.Session, replay: bool
) -> None:
    sim.configure(replay_temp_id_mapping=replay)
    create = add("same-uuid", "a", "t1")
    first = sync(sim, http, [create])
    real_id = first["temp_id_mapping"]["t1"]
    # The retry also carries a new command naming the temp_id, in the same request.
    second = sync(sim, http, [create, {"type": "item_close", "uuid": "c", "args": {"id": "t1"}}])

    assert len(sim.tasks("alice")) == 1
    assert second["sync_status"]["same-uuid"] == "ok"
    if replay:
        assert second["temp_id_mapping"] == {"t1": real_id}
        assert second["sync_status"]["c"] == "ok"
        assert sim.tasks("alice")[0]["checked"] is True
    else:
        assert second["temp_id_mapping"] == {}
        assert second["sync_status"]["c"] == ITEM_NOT_FOUND
        assert sim.tasks("alice")[0]["checked"] is False


# ----- 4. 300 active tasks per project -----------------------------------------------


def test_project_task_cap_refuses_with_todoists_403_until_room_is_made(
    http: requests.Session,
) -> None:
    with Simulator(SimConfig(seed=1), {"alice": TOKEN}, worst_case=True) as sim:
        for i in range(299):
            sim.person_add_task("alice", f"filler {i}")
        last = http.post(f"{sim.url}/tasks", json={"content": "the 300th"})
        assert last.status_code == 200

        refused = http.post(f"{sim.url}/tasks", json={"content": "the 301st"})
        assert refused.status_code == 403
        assert refused.json() == project_full(300)
        answer = sync(sim, http, [add("s1", "via sync")])
        assert answer["sync_status"] == {"s1": project_full(300)}
        assert answer["temp_id_mapping"] == {}
        assert len(sim.tasks("alice")) == 300

        # Another project has room; moving into the full Inbox does not.
        other = http.post(f"{sim.url}/projects", json={"name": "Other"}).json()
        moved = http.post(f"{sim.url}/tasks", json={"content": "o", "project_id": other["id"]})
        assert moved.status_code == 200
        move = {"type": "item_move", "uuid": "m1", "args": {"id": moved.json()["id"]}}
        move["args"]["project_id"] = sim.inbox_id("alice")
        assert sync(sim, http, [move])["sync_status"] == {"m1": project_full(300)}
        rest_move = http.post(
            f"{sim.url}/tasks/{moved.json()['id']}/move",
            json={"project_id": sim.inbox_id("alice")},
        )
        assert rest_move.status_code == 403 and rest_move.json() == project_full(300)

        # Closing a task makes room; reopening it while full is refused again.
        closed_id = last.json()["id"]
        assert http.post(f"{sim.url}/tasks/{closed_id}/close").status_code == 204
        assert http.post(f"{sim.url}/tasks", json={"content": "fits now"}).status_code == 200
        reopen = http.post(f"{sim.url}/tasks/{closed_id}/reopen")
        assert reopen.status_code == 403 and reopen.json() == project_full(300)
        with pytest.raises(ApiError) as refused_person:
            sim.person_task("alice", closed_id, "reopen")
        assert refused_person.value.body() == project_full(300)
        assert sim.stats()["refused_project_full"] == 6

        # The cap is a switch: smaller caps count the same way.
        sim.configure(project_task_cap=1)
        assert http.post(
            f"{sim.url}/tasks", json={"content": "x", "project_id": other["id"]}
        ).json() == project_full(1)


# ----- 5. 1 MiB per request body ------------------------------------------------------


def test_max_body_bytes_counts_raw_bytes_and_applies_nothing(
    sim: Simulator, http: requests.Session
) -> None:
    body = json.dumps({"content": "fits"}).encode()
    sim.configure(max_body_bytes=len(body))
    headers = {"Content-Type": "application/json"}
    assert http.post(f"{sim.url}/tasks", data=body, headers=headers).status_code == 200
    over = http.post(f"{sim.url}/tasks", data=body + b" ", headers=headers)
    assert over.status_code == 413
    assert over.json() == {
        "error": "Request entity too large",
        "error_code": 413,
        "error_tag": "REQUEST_TOO_LARGE",
        "http_code": 413,
        "error_extra": {},
    }
    assert [t["content"] for t in sim.tasks("alice")] == ["fits"]
    assert sim.stats()["responses_413"] == 1

    # 1 MiB: requests' json= escapes "é" as \\u00e9 (6 bytes); raw UTF-8 takes 2.
    sim.configure(max_body_bytes=WORST_CASE["max_body_bytes"])
    commands = [add(f"big-{i}", f"t{i}", description="é" * 16383) for i in range(20)]
    escaped = http.post(f"{sim.url}/sync", json={"commands": commands})
    assert escaped.status_code == 413
    assert len(sim.tasks("alice")) == 1 and sim.stats()["sync_commands_executed"] == 0
    raw = json.dumps({"commands": commands}, ensure_ascii=False).encode()
    assert len(raw) <= 1048576 < len(json.dumps({"commands": commands}).encode())
    utf8 = http.post(f"{sim.url}/sync", data=raw, headers=headers)
    assert utf8.status_code == 200 and len(utf8.json()["sync_status"]) == 20
    assert len(sim.tasks("alice")) == 21


# ----- 6. projects --------------------------------------------------------------------


def test_each_account_has_an_inbox_and_projects_page_like_tasks(
    sim: Simulator, http: requests.Session
) -> None:
    inbox = sim.projects("alice")[0]
    assert inbox["id"] == sim.inbox_id("alice") and inbox["inbox_project"] is True
    assert inbox["name"] == "Inbox" and sim.inbox_id("bob") != inbox["id"]
    assert http.get(f"{sim.url}/user").json()["inbox_project_id"] == inbox["id"]

    made = [http.post(f"{sim.url}/projects", json={"name": f"P{i}"}).json() for i in range(4)]
    assert all(p["inbox_project"] is False and not p["is_deleted"] for p in made)
    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = http.get(f"{sim.url}/projects", params=params).json()
        seen += [p["id"] for p in body["results"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [inbox["id"]] + [p["id"] for p in made] and pages == 3
    assert http.get(f"{sim.url}/projects", params={"limit": 201}).status_code == 400

    missing = http.post(f"{sim.url}/projects", json={})
    assert missing.status_code == 400 and missing.json()["error_extra"]["argument"] == "name"
    bob = {"Authorization": f"Bearer {OTHER_TOKEN}"}
    bob_projects = requests.get(f"{sim.url}/projects", headers=bob).json()["results"]
    assert [p["name"] for p in bob_projects] == ["Inbox"]


def test_tasks_live_in_projects_and_move_only_by_item_move(
    sim: Simulator, http: requests.Session
) -> None:
    answer = sync(
        sim,
        http,
        [
            {"type": "project_add", "uuid": "p", "temp_id": "tp", "args": {"name": "Work"}},
            add("a", "in work", "ta", project_id="tp"),
            add("b", "in inbox", "tb"),
            add("c", "nowhere", project_id="NoSuchProject000"),
        ],
    )
    work = answer["temp_id_mapping"]["tp"]
    assert answer["sync_status"]["c"] == PROJECT_NOT_FOUND
    by_content = {t["content"]: t for t in sim.tasks("alice")}
    assert by_content["in work"]["project_id"] == work
    assert by_content["in inbox"]["project_id"] == sim.inbox_id("alice")
    rest = http.post(f"{sim.url}/tasks", json={"content": "x", "project_id": "NoSuchProject000"})
    assert rest.status_code == 404 and rest.json() == PROJECT_NOT_FOUND

    inbox_task = by_content["in inbox"]["id"]
    refused = sync(
        sim,
        http,
        [{"type": "item_update", "uuid": "u", "args": {"id": inbox_task, "project_id": work}}],
    )
    assert refused["sync_status"]["u"]["http_code"] == 400
    assert refused["sync_status"]["u"]["error_extra"]["argument"] == "project_id"
    rest_update = http.post(f"{sim.url}/tasks/{inbox_task}", json={"project_id": work})
    assert rest_update.status_code == 400
    assert rest_update.json()["error_extra"]["argument"] == "project_id"
    assert sim.tasks("alice")[1]["project_id"] == sim.inbox_id("alice")

    move = {"type": "item_move", "uuid": "m", "args": {"id": inbox_task, "project_id": work}}
    assert sync(sim, http, [move])["sync_status"] == {"m": "ok"}
    listed = http.get(f"{sim.url}/tasks", params={"project_id": work}).json()["results"]
    assert sorted(t["content"] for t in listed) == ["in inbox", "in work"]

    # A person deletes the project in Todoist: its tasks go with it.
    deleted = requests.post(
        f"{sim.root_url}/__sim__/person/project/delete",
        json={"account": "alice", "project_id": work},
    )
    assert deleted.status_code == 200 and deleted.json()["tasks_deleted"] == 2
    assert live(sim) == []
    assert http.get(f"{sim.url}/projects/{work}").status_code == 404
    inbox_delete = requests.post(
        f"{sim.root_url}/__sim__/person/project/delete",
        json={"account": "alice", "project_id": sim.inbox_id("alice")},
    )
    assert inbox_delete.status_code == 400


# ----- 7. incremental reads -----------------------------------------------------------


def test_incremental_read_answers_what_changed_since_the_token(
    sim: Simulator, http: requests.Session
) -> None:
    first = sync(sim, http, [add("a", "keep"), add("b", "edit"), add("c", "close")])
    ids = {t["content"]: t["id"] for t in sim.tasks("alice")}
    sync(sim, http, [add("d", "gone")])
    ids["gone"] = sim.tasks("alice")[-1]["id"]
    http.delete(f"{sim.url}/tasks/{ids['gone']}")

    full = read(sim, http, "*", ["items", "projects"])
    assert full["full_sync"] is True
    assert [t["content"] for t in full["items"]] == ["keep", "edit", "close"]  # active only
    assert [p["name"] for p in full["projects"]] == ["Inbox"]
    assert first["sync_token"] != full["sync_token"]

    # Commands and a read in one request: the commands run first.
    both = http.post(
        f"{sim.url}/sync",
        json={
            "commands": [
                {"type": "item_update", "uuid": "e", "args": {"id": ids["edit"], "priority": 2}},
                {"type": "item_close", "uuid": "f", "args": {"id": ids["close"]}},
                {"type": "project_add", "uuid": "g", "temp_id": "tp", "args": {"name": "New"}},
            ],
            "sync_token": full["sync_token"],
            "resource_types": ["items"],
        },
    ).json()
    assert both["sync_status"] == {"e": "ok", "f": "ok", "g": "ok"}
    assert both["full_sync"] is False and "projects" not in both
    assert [(t["content"], t["priority"], t["checked"]) for t in both["items"]] == [
        ("edit", 2, False),
        ("close", 1, True),
    ]

    sim.person_task("alice", ids["keep"], "delete")
    changed = read(sim, http, both["sync_token"], ["all"])
    assert changed["full_sync"] is False
    assert [(t["content"], t["is_deleted"]) for t in changed["items"]] == [("keep", True)]
    assert changed["projects"] == []  # "New" was in the token's past already

    projects_only = read(sim, http, full["sync_token"], ["projects"])
    assert [p["name"] for p in projects_only["projects"]] == ["New"]
    assert "items" not in projects_only
    nothing = read(sim, http, changed["sync_token"], ["items", "projects"])
    assert (nothing["items"], nothing["projects"], nothing["full_sync"]) == ([], [], False)


def test_sync_read_form_encoded_and_unknown_tokens_mean_full_sync(
    sim: Simulator, http: requests.Session
) -> None:
    sync(sim, http, [add("a", "one")])
    form = http.post(
        f"{sim.url}/sync",
        data={
            "commands": json.dumps([add("b", "two")]),
            "sync_token": "*",
            "resource_types": json.dumps(["items"]),
        },
    )
    assert form.status_code == 200
    body = form.json()
    assert body["sync_status"] == {"b": "ok"} and body["full_sync"] is True
    assert [t["content"] for t in body["items"]] == ["one", "two"]

    for token in ("garbage-token", body["sync_token"] + "x"):
        assert read(sim, http, token, ["items"])["full_sync"] is True, token
    # Bob's token means nothing for Alice, and a reset forgets every token.
    bob = {"Authorization": f"Bearer {OTHER_TOKEN}"}
    bob_token = requests.post(
        f"{sim.url}/sync", json={"sync_token": "*", "resource_types": ["items"]}, headers=bob
    ).json()["sync_token"]
    assert read(sim, http, bob_token, ["items"])["full_sync"] is True
    assert read(sim, http, body["sync_token"], ["items"])["full_sync"] is False
    sim.reset()
    again = read(sim, http, body["sync_token"], ["items"])
    assert again["full_sync"] is True and again["items"] == []

    missing_types = http.post(f"{sim.url}/sync", json={"sync_token": "*"})
    assert missing_types.status_code == 400
    assert missing_types.json()["error_extra"]["argument"] == "resource_types"
    assert http.post(f"{sim.url}/sync", json={}).status_code == 400


# ----- 8. acting as a person ------------------------------------------------------------


def test_person_edits_through_the_control_endpoint_and_in_process(
    sim: Simulator, http: requests.Session
) -> None:
    task_id = http.post(f"{sim.url}/tasks", json={"content": "Old"}).json()["id"]
    url = f"{sim.root_url}/__sim__/person/task"
    edited = requests.post(
        url,
        json={
            "account": "alice",
            "task_id": task_id,
            "action": "update",
            "content": "Renamed",
            "description": "by hand",
            "priority": 4,
            "due": "2025-06-01",
            "labels": ["home"],
        },
    )
    assert edited.status_code == 200
    task = sim.tasks("alice")[0]
    assert (task["content"], task["description"], task["priority"]) == ("Renamed", "by hand", 4)
    assert task["due"]["date"] == "2025-06-01" and task["labels"] == ["home"]
    assert edited.json() == task

    assert sim.person_task(TOKEN, task_id, "complete")["checked"] is True
    assert sim.person_task("alice", task_id, "reopen")["checked"] is False
    assert sim.person_task("alice", task_id, due=None)["due"] is None
    project = sim.person_add_project("alice", "Errands")
    assert (
        sim.person_task("alice", task_id, "move", project_id=project["id"])["project_id"]
        == (project["id"])
    )
    assert (
        requests.post(
            url, json={"account": "alice", "task_id": task_id, "action": "delete"}
        ).json()["is_deleted"]
        is True
    )
    assert sim.stats()["person_edits"] == 7
    assert sim.stats()["requests_total"] == 1  # person edits are not API requests

    for body, status in (
        ({"account": "alice", "task_id": task_id, "content": "x"}, 404),  # deleted
        ({"account": "nobody", "task_id": task_id, "action": "complete"}, 404),
        ({"account": "alice", "task_id": task_id, "action": "fly"}, 400),
        ({"account": "alice", "action": "complete"}, 400),
    ):
        assert requests.post(url, json=body).status_code == status, body
    with pytest.raises(ApiError) as bad_field:
        sim.person_task("alice", sim.person_add_task("alice", "n")["id"], colour="red")
    assert bad_field.value.http_code == 400


# ----- 9. per-account rate limits ------------------------------------------------------


def test_request_limit_is_a_separate_window_per_account(sim: Simulator) -> None:
    sim.configure(request_limit=2, limit_window_seconds=30)
    sessions = {}
    for name, token in (("alice", TOKEN), ("bob", OTHER_TOKEN)):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        sessions[name] = session
    codes = [
        sessions[name].post(f"{sim.url}/tasks", json={"content": name}).status_code
        for name in ("alice", "bob", "alice", "bob", "alice", "bob")
    ]
    assert codes == [200, 200, 200, 200, 429, 429]
    assert len(sim.tasks("alice")) == len(sim.tasks("bob")) == 2
    started = time.monotonic()
    sim.configure(request_limit=None)
    assert sessions["alice"].get(f"{sim.url}/tasks").status_code == 200
    assert time.monotonic() - started < 5
    for session in sessions.values():
        session.close()


# ----- 10. answers the official SDK can parse -------------------------------------------

# Required fields of todoist-api-python 4.0.0's models (either name of an aliased field).
SDK_TASK_FIELDS = [
    "id",
    "content",
    "description",
    "project_id",
    "section_id",
    "parent_id",
    "labels",
    "priority",
    "due",
    "deadline",
    "duration",
    ("collapsed", "is_collapsed"),
    ("child_order", "order"),
    ("responsible_uid", "assignee_id"),
    ("assigned_by_uid", "assigner_id"),
    "completed_at",
    ("added_by_uid", "creator_id"),
    ("added_at", "created_at"),
    "updated_at",
]
SDK_PROJECT_FIELDS = [
    "id",
    "name",
    "description",
    ("child_order", "order"),
    "color",
    ("collapsed", "is_collapsed"),
    ("shared", "is_shared"),
    "is_favorite",
    "is_archived",
    "can_assign_tasks",
    "view_style",
    "created_at",
    "updated_at",
]
SDK_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def assert_sdk_shape(obj: dict[str, Any], fields: list[Any], timestamps: list[str]) -> None:
    for name in fields:
        names = name if isinstance(name, tuple) else (name,)
        assert any(n in obj for n in names), (names, obj)
    for name in timestamps:
        assert obj[name] is None or SDK_TIMESTAMP.match(obj[name]), (name, obj[name])


def test_tasks_and_projects_carry_every_field_the_sdk_needs(
    sim: Simulator, http: requests.Session
) -> None:
    project = http.post(f"{sim.url}/projects", json={"name": "Work"}).json()
    task = http.post(
        f"{sim.url}/tasks", json={"content": "a", "due_date": "2025-01-02", "labels": ["x"]}
    ).json()
    closed = http.post(f"{sim.url}/tasks", json={"content": "b"}).json()
    http.post(f"{sim.url}/tasks/{closed['id']}/close")
    full = read(sim, http, "*", ["all"])

    tasks = [task, *http.get(f"{sim.url}/tasks").json()["results"], *full["items"]]
    tasks += sim.tasks("alice")
    for obj in tasks:
        assert_sdk_shape(obj, SDK_TASK_FIELDS, ["added_at", "updated_at", "completed_at"])
        assert obj["section_id"] is None and obj["parent_id"] is None
        assert obj["user_id"] and obj["is_deleted"] in (False, True)
    assert SDK_TIMESTAMP.match(sim.tasks("alice")[1]["completed_at"])
    assert set(task["due"]) >= {"date", "string", "lang", "is_recurring"}

    projects = [project, *http.get(f"{sim.url}/projects").json()["results"], *full["projects"]]
    for obj in projects:
        assert_sdk_shape(obj, SDK_PROJECT_FIELDS, ["created_at", "updated_at"])
        assert obj["view_style"] in ("list", "board", "calendar")
        assert isinstance(obj["inbox_project"], bool) and obj["is_deleted"] is False
