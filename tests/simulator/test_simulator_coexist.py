"""Tests of what the simulator models of a person living in Todoist beside the sync (todoist_sim;
NOT Todoist): recurring tasks, dues with times and time zones, archived projects, completed tasks,
and limits counted per account (several tokens) including full syncs. Driven over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from todoist_api_python.models import Due as SdkDue
from todoist_api_python.models import Project as SdkProject
from todoist_api_python.models import Task as SdkTask

from tests.simulator.client import OTHER_TOKEN, TOKEN, sync
from todoist_sim import WORST_CASE, ApiError, SimConfig, Simulator
from todoist_sim.cli import _cli_tokens, _parser, parse_config

PROJECT_NOT_FOUND = {
    "error": "Project not found",
    "error_code": 21,
    "error_tag": "PROJECT_NOT_FOUND",
    "http_code": 404,
    "error_extra": {},
}


def read(sim: Simulator, http: requests.Session, token: str, types: list[str]) -> dict:
    response = http.post(
        f"{sim.url}/sync", json={"sync_token": token, "resource_types": types}, timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()


def add(sim: Simulator, http: requests.Session, content: str, **args: Any) -> dict[str, Any]:
    answer = sync(
        sim,
        http,
        [
            {
                "type": "item_add",
                "uuid": f"add-{content}",
                "temp_id": "t",
                "args": {"content": content, **args},
            }
        ],
    )
    assert answer["sync_status"] == {f"add-{content}": "ok"}, answer
    return task_of(sim, answer["temp_id_mapping"]["t"])


def command(kind: str, cmd_uuid: str, **args: Any) -> dict[str, Any]:
    return {"type": kind, "uuid": cmd_uuid, "args": args}


def task_of(sim: Simulator, task_id: str, account: str = "alice") -> dict[str, Any]:
    return next(t for t in sim.tasks(account) if t["id"] == task_id)


def due(date: str, string: str | None = None, timezone: str | None = None) -> dict[str, Any]:
    return {
        "date": date,
        "timezone": timezone,
        "string": string or date,
        "lang": "en",
        "is_recurring": string is not None and string.startswith("every"),
    }


def today() -> str:
    return datetime.now(UTC).date().isoformat()


# ----- 1. recurring tasks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "start", "after_one", "after_two"),
    [
        ("every day", "2026-01-30", "2026-01-31", "2026-02-01"),
        ("every week", "2026-01-30", "2026-02-06", "2026-02-13"),
        ("every month", "2026-01-31", "2026-02-28", "2026-03-28"),
        ("every 3 days", "2026-02-27", "2026-03-02", "2026-03-05"),
        ("Every 2 Weeks", "2026-12-25", "2027-01-08", "2027-01-22"),
        ("every year", "2028-02-29", "2029-02-28", "2030-02-28"),
    ],
)
def test_item_close_moves_a_recurring_task_to_its_next_date_and_leaves_it_open(
    sim: Simulator, http: requests.Session, rule: str, start: str, after_one: str, after_two: str
) -> None:
    task = add(sim, http, "water plants", due={"date": start, "string": rule})
    assert task["due"] == {**due(start, rule), "is_recurring": True}
    token = read(sim, http, "*", ["items"])["sync_token"]

    assert sync(sim, http, [command("item_close", "c1", id=task["id"])])["sync_status"] == {
        "c1": "ok"
    }
    moved = task_of(sim, task["id"])
    assert moved["due"] == {**due(after_one, rule), "is_recurring": True}
    assert (moved["checked"], moved["completed_at"]) == (False, None)
    changed = read(sim, http, token, ["items"])["items"]
    assert [(t["id"], t["checked"], t["due"]["date"]) for t in changed] == [
        (task["id"], False, after_one)
    ]
    # Still in the active lists: a full read and GET /tasks/{id}.
    assert task["id"] in [t["id"] for t in read(sim, http, "*", ["items"])["items"]]
    assert http.get(f"{sim.url}/tasks/{task['id']}").json()["due"]["date"] == after_one

    # The REST close does the same (v1: "a recurring task moves to its next occurrence").
    assert http.post(f"{sim.url}/tasks/{task['id']}/close").status_code == 204
    assert task_of(sim, task["id"])["due"]["date"] == after_two
    assert task_of(sim, task["id"])["checked"] is False


def test_a_recurring_due_keeps_its_time_of_day_and_time_zone(
    sim: Simulator, http: requests.Session
) -> None:
    # 10:00 in Berlin is 09:00Z in winter; the clocks change on 2026-03-29, so the next
    # occurrence is 10:00 Berlin summer time, 08:00Z.
    zoned = add(
        sim,
        http,
        "stand-up",
        due={"date": "2026-03-28T09:00:00Z", "timezone": "Europe/Berlin", "string": "every day"},
    )
    floating = add(sim, http, "gym", due={"date": "2026-01-30T18:30:00", "string": "every week"})
    sync(
        sim,
        http,
        [command("item_close", "z", id=zoned["id"]), command("item_close", "f", id=floating["id"])],
    )
    assert task_of(sim, zoned["id"])["due"] == {
        **due("2026-03-29T08:00:00Z", "every day", "Europe/Berlin"),
        "is_recurring": True,
    }
    assert task_of(sim, floating["id"])["due"] == {
        **due("2026-02-06T18:30:00", "every week"),
        "is_recurring": True,
    }


def test_item_complete_ends_a_recurrence_and_item_uncomplete_reopens(
    sim: Simulator, http: requests.Session
) -> None:
    task = add(sim, http, "pay rent", due={"date": "2026-01-01", "string": "every month"})
    sync(sim, http, [command("item_complete", "done", id=task["id"])])
    done = task_of(sim, task["id"])
    assert done["checked"] is True and done["completed_at"] is not None
    assert done["due"]["date"] == "2026-01-01"  # not moved on
    assert task["id"] not in [t["id"] for t in read(sim, http, "*", ["items"])["items"]]

    sync(sim, http, [command("item_uncomplete", "again", id=task["id"])])
    reopened = task_of(sim, task["id"])
    assert (reopened["checked"], reopened["completed_at"]) == (False, None)
    assert reopened["due"] == {**due("2026-01-01", "every month"), "is_recurring": True}


def test_a_date_without_its_string_drops_the_recurrence(
    sim: Simulator, http: requests.Session
) -> None:
    """The worst case of "a date alone does not allow you to create recurring due dates"."""
    by_sync = add(sim, http, "a", due={"date": "2026-01-05", "string": "every day"})
    by_rest = add(sim, http, "b", due={"date": "2026-01-05", "string": "every day"})
    sync(
        sim,
        http,
        [
            command(
                "item_update",
                "u",
                id=by_sync["id"],
                due={"date": "2026-02-01", "is_recurring": True},
            )
        ],
    )
    assert task_of(sim, by_sync["id"])["due"] == due("2026-02-01")
    answer = http.post(f"{sim.url}/tasks/{by_rest['id']}", json={"due_date": "2026-02-01"})
    assert answer.status_code == 200 and answer.json()["due"] == due("2026-02-01")

    # No longer recurring: a close now completes it.
    sync(sim, http, [command("item_close", "c", id=by_sync["id"])])
    assert task_of(sim, by_sync["id"])["checked"] is True


def test_an_update_with_the_string_keeps_or_sets_the_recurrence(
    sim: Simulator, http: requests.Session
) -> None:
    task = add(sim, http, "a", due={"date": "2026-01-05", "string": "every day"})
    plain = add(sim, http, "b", due={"date": "2026-01-05"})
    sync(
        sim,
        http,
        [
            # The whole due as read back, with a new date: the new date is the next occurrence.
            command(
                "item_update", "keep", id=task["id"], due={**task["due"], "date": "2026-03-01"}
            ),
            # A rule without a date starts today.
            command("item_update", "set", id=plain["id"], due={"string": "every week"}),
        ],
    )
    assert task_of(sim, task["id"])["due"] == {
        **due("2026-03-01", "every day"),
        "is_recurring": True,
    }
    assert task_of(sim, plain["id"])["due"] == {**due(today(), "every week"), "is_recurring": True}
    sync(sim, http, [command("item_close", "c", id=task["id"])])
    assert task_of(sim, task["id"])["due"]["date"] == "2026-03-02"

    # REST: due_string with a rule makes it recurring from today; due_date drops it again.
    rest = http.post(f"{sim.url}/tasks", json={"content": "r", "due_string": "every 2 days"})
    assert rest.status_code == 200
    assert rest.json()["due"] == {**due(today(), "every 2 days"), "is_recurring": True}
    updated = http.post(f"{sim.url}/tasks/{plain['id']}", json={"due_string": "every month"})
    assert updated.json()["due"]["is_recurring"] is True
    unknown = http.post(f"{sim.url}/tasks", json={"content": "r", "due_string": "every blue moon"})
    assert unknown.status_code == 400 and unknown.json()["error_extra"]["argument"] == "due_string"


def test_a_person_makes_a_task_recurring_and_ticks_it_off(sim: Simulator) -> None:
    task = sim.person_add_task("alice", "stretch")
    made = sim.person_task("alice", task["id"], due={"date": "2026-01-05", "string": "every day"})
    assert made["due"] == {**due("2026-01-05", "every day"), "is_recurring": True}
    # Ticking a recurring task in the app moves it on, as item_close does.
    ticked = sim.person_task("alice", task["id"], "complete")
    assert (ticked["checked"], ticked["due"]["date"]) == (False, "2026-01-06")
    # "Complete forever" ends it, as item_complete does.
    ended = sim.person_task("alice", task["id"], "complete_forever")
    assert (ended["checked"], ended["due"]["date"]) == (True, "2026-01-06")
    # The control endpoint takes the same; a plain string due is a date or a rule.
    other = sim.person_add_task("alice", "read")
    answer = requests.post(
        f"{sim.root_url}/__sim__/person/task",
        json={"account": "alice", "task_id": other["id"], "due": "every week"},
    )
    assert answer.status_code == 200 and answer.json()["due"]["is_recurring"] is True
    timed = sim.person_task("alice", other["id"], due="2026-12-07T10:00:00")
    assert timed["due"] == due("2026-12-07T10:00:00")


# ----- 2. times of day and time zones ------------------------------------------------


def test_dues_with_times_and_time_zones_and_a_bare_date_drops_the_time(
    sim: Simulator, http: requests.Session
) -> None:
    task = add(sim, http, "call", due={"date": "2026-12-07T10:00:00"})
    assert task["due"] == due("2026-12-07T10:00:00")
    zoned = {"date": "2026-12-07T09:00:00Z", "timezone": "Europe/Berlin"}
    sync(sim, http, [command("item_update", "z", id=task["id"], due=zoned)])
    assert task_of(sim, task["id"])["due"] == due("2026-12-07T09:00:00Z", timezone="Europe/Berlin")
    # A person sets a time; a date-only update over it drops the time (the worst case).
    sim.person_task("alice", task["id"], due={"date": "2026-12-07T15:45:00"})
    sync(sim, http, [command("item_update", "d", id=task["id"], due={"date": "2026-12-08"})])
    assert task_of(sim, task["id"])["due"] == due("2026-12-08")

    # REST: due_datetime is UTC.
    rest = http.post(
        f"{sim.url}/tasks", json={"content": "r", "due_datetime": "2026-12-07T09:00:00Z"}
    )
    assert rest.status_code == 200
    assert rest.json()["due"] == due("2026-12-07T09:00:00Z", timezone="UTC")

    for bad in (
        {"date": "2026-12-07T25:00:00"},
        {"date": "2026-12-07 10:00"},
        {"date": "2026-12-07T10:00:00+01:00"},
        {"date": "2026-12-07T09:00:00Z", "timezone": "Mars/Olympus_Mons"},
    ):
        answer = sync(sim, http, [command("item_update", "bad", id=task["id"], due=bad)])
        assert answer["sync_status"]["bad"]["error_extra"]["argument"] == "due", bad
    refused = http.post(
        f"{sim.url}/tasks", json={"content": "r", "due_date": "2026-12-07T10:00:00"}
    )
    assert refused.status_code == 400

    # Every due shape parses with the official SDK.
    for obj in sim.tasks("alice"):
        assert SdkTask.from_dict(obj).due is not None
        SdkDue.from_dict(obj["due"])


# ----- 3. archived projects ----------------------------------------------------------


def test_an_archived_project_leaves_active_lists_and_full_reads(
    sim: Simulator, http: requests.Session
) -> None:
    work = sim.person_add_project("alice", "Work")
    inside = sim.person_add_task("alice", "in work", work["id"])
    outside = sim.person_add_task("alice", "in inbox")
    token = read(sim, http, "*", ["items", "projects"])["sync_token"]

    archived = sim.person_archive_project("alice", work["id"])
    assert archived["is_archived"] is True and archived["is_deleted"] is False
    listed = [p["id"] for p in http.get(f"{sim.url}/projects").json()["results"]]
    assert listed == [sim.inbox_id("alice")]
    full = read(sim, http, "*", ["items", "projects"])
    assert [p["id"] for p in full["projects"]] == [sim.inbox_id("alice")]
    assert [t["id"] for t in full["items"]] == [outside["id"]]
    assert [t["id"] for t in http.get(f"{sim.url}/tasks").json()["results"]] == [outside["id"]]
    by_project = http.get(f"{sim.url}/tasks", params={"project_id": work["id"]})
    assert by_project.status_code == 200 and by_project.json()["results"] == []
    changed = read(sim, http, token, ["items", "projects"])
    assert [(p["id"], p["is_archived"]) for p in changed["projects"]] == [(work["id"], True)]
    shown = http.get(f"{sim.url}/projects/{work['id']}")
    assert shown.status_code == 200 and shown.json()["is_archived"] is True
    SdkProject.from_dict(shown.json())

    # Unarchived: the tasks are back.
    assert sim.person_unarchive_project("alice", work["id"])["is_archived"] is False
    full = read(sim, http, "*", ["items", "projects"])
    assert {t["id"] for t in full["items"]} == {inside["id"], outside["id"]}
    assert work["id"] in [p["id"] for p in full["projects"]]


def test_adds_and_moves_into_an_archived_project_fail_as_into_a_deleted_one(
    sim: Simulator, http: requests.Session
) -> None:
    """Worst case: the same error as for a deleted or unknown project; only reading the project
    tells them apart."""
    archived = sim.person_add_project("alice", "Archived")
    deleted = sim.person_add_project("alice", "Deleted")
    sim.person_archive_project("alice", archived["id"])
    sim.person_delete_project("alice", deleted["id"])
    task = sim.person_add_task("alice", "mover")

    errors = {}
    for name, project_id in (
        ("archived", archived["id"]),
        ("deleted", deleted["id"]),
        ("unknown", "NoSuchProject000"),
    ):
        answer = sync(
            sim,
            http,
            [
                command("item_add", f"a-{name}", content="x", project_id=project_id),
                command("item_move", f"m-{name}", id=task["id"], project_id=project_id),
            ],
        )
        rest_add = http.post(f"{sim.url}/tasks", json={"content": "x", "project_id": project_id})
        rest_move = http.post(f"{sim.url}/tasks/{task['id']}/move", json={"project_id": project_id})
        errors[name] = [
            answer["sync_status"][f"a-{name}"],
            answer["sync_status"][f"m-{name}"],
            (rest_add.status_code, rest_add.json()),
            (rest_move.status_code, rest_move.json()),
        ]
    assert errors["archived"] == errors["deleted"] == errors["unknown"]
    assert errors["archived"][0] == PROJECT_NOT_FOUND
    assert [t["id"] for t in sim.tasks("alice") if not t["is_deleted"]] == [task["id"]]
    with pytest.raises(ApiError) as by_person:
        sim.person_task("alice", task["id"], "move", project_id=archived["id"])
    assert by_person.value.body() == PROJECT_NOT_FOUND

    sim.person_unarchive_project("alice", archived["id"])
    answer = sync(sim, http, [command("item_move", "m", id=task["id"], project_id=archived["id"])])
    assert answer["sync_status"] == {"m": "ok"}


def test_archive_and_unarchive_endpoints_commands_and_control(
    sim: Simulator, http: requests.Session
) -> None:
    work = http.post(f"{sim.url}/projects", json={"name": "Work"}).json()
    answer = http.post(f"{sim.url}/projects/{work['id']}/archive")
    assert answer.status_code == 200 and answer.json()["is_archived"] is True
    SdkProject.from_dict(answer.json())
    answer = http.post(f"{sim.url}/projects/{work['id']}/unarchive")
    assert answer.status_code == 200 and answer.json()["is_archived"] is False
    inbox = http.post(f"{sim.url}/projects/{sim.inbox_id('alice')}/archive")
    assert inbox.status_code == 400
    assert http.post(f"{sim.url}/projects/NoSuchProject000/archive").status_code == 404

    status = sync(
        sim,
        http,
        [{"type": "project_archive", "uuid": "pa", "args": {"id": work["id"]}}],
    )["sync_status"]
    assert status == {"pa": "ok"} and sim.projects("alice")[1]["is_archived"] is True
    status = sync(
        sim,
        http,
        [{"type": "project_unarchive", "uuid": "pu", "args": {"id": work["id"]}}],
    )["sync_status"]
    assert status == {"pu": "ok"} and sim.projects("alice")[1]["is_archived"] is False

    root = f"{sim.root_url}/__sim__/person/project"
    body = {"account": "alice", "project_id": work["id"]}
    assert requests.post(f"{root}/archive", json=body).json()["is_archived"] is True
    assert requests.post(f"{root}/unarchive", json=body).json()["is_archived"] is False
    stats = sim.stats()["requests_by_kind"]
    assert (stats["project_archive"], stats["project_unarchive"]) == (3, 1)


# ----- 4. completed tasks --------------------------------------------------------------


def test_completed_tasks_show_in_increments_and_in_the_completed_list(
    sim: Simulator, http: requests.Session
) -> None:
    tasks = [sim.person_add_task("alice", f"t{n}") for n in range(5)]
    token = read(sim, http, "*", ["items"])["sync_token"]
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for task in tasks[:4]:
        sim.person_task("alice", task["id"], "complete")
    sim.person_task("alice", tasks[3]["id"], "reopen")
    until = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    # A full read lists active tasks only; an increment shows the completions, checked.
    assert [t["id"] for t in read(sim, http, "*", ["items"])["items"]] == [
        tasks[3]["id"],
        tasks[4]["id"],
    ]
    changed = read(sim, http, token, ["items"])["items"]
    assert [(t["id"], t["checked"]) for t in changed] == [
        (tasks[0]["id"], True),
        (tasks[1]["id"], True),
        (tasks[2]["id"], True),
        (tasks[3]["id"], False),
    ]

    url = f"{sim.url}/tasks/completed/by_completion_date"
    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"since": since, "until": until, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        answer = http.get(url, params=params)
        assert answer.status_code == 200, answer.text
        seen += answer.json()["items"]
        cursor, pages = answer.json()["next_cursor"], pages + 1
        if cursor is None:
            break
    assert sorted(t["id"] for t in seen) == sorted(t["id"] for t in tasks[:3]) and pages == 2
    assert all(t["checked"] is True and SdkTask.from_dict(t).completed_at for t in seen)

    # Outside the window: nothing. Bad windows and limits are refused.
    empty = http.get(url, params={"since": "2020-01-01T00:00:00Z", "until": "2020-02-01T00:00:00Z"})
    assert empty.json() == {"items": [], "next_cursor": None}
    for bad in (
        {"until": until},
        {"since": since},
        {"since": "2020-01-01T00:00:00Z", "until": "2020-06-01T00:00:00Z"},  # over 3 months
        {"since": since, "until": until, "limit": 201},
        {"since": "yesterday", "until": until},
    ):
        assert http.get(url, params=bad).status_code == 400, bad
    assert sim.stats()["requests_by_kind"]["completed"] == 8


# ----- 5. limits per account, and full syncs --------------------------------------------


def session_for(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def test_several_tokens_of_one_account_share_its_data_and_its_request_window() -> None:
    first, second, third = "tok-alice-one", "tok-alice-two", "tok-alice-three"
    with Simulator(SimConfig(seed=1), tokens={"alice": [first, second], "bob": OTHER_TOKEN}) as sim:
        assert sim.accounts == ["alice", "bob"]
        sim.add_token("alice", third)
        with pytest.raises(ValueError):
            sim.add_token("bob", first)  # one token opens one account only
        with pytest.raises(KeyError):
            sim.add_token("nobody", "tok-new")
        answer = requests.post(
            f"{sim.root_url}/__sim__/token", json={"account": "bob", "token": "tok-bob-two"}
        )
        assert answer.status_code == 200 and "tok-bob-two" not in answer.text

        sessions = [session_for(t) for t in (first, second, third, OTHER_TOKEN, "tok-bob-two")]
        sessions[1].post(f"{sim.url}/tasks", json={"content": "by the second token"})
        assert [t["content"] for t in sim.tasks(first)] == ["by the second token"]
        users = {s.get(f"{sim.url}/user").json()["id"] for s in sessions[:3]}
        assert len(users) == 1

        sim.configure(request_limit=3, limit_window_seconds=60)
        codes = [s.get(f"{sim.url}/tasks").status_code for s in sessions]
        assert codes == [200, 200, 200, 200, 200]
        assert sessions[1].get(f"{sim.url}/tasks").status_code == 429  # alice's window is full
        assert sessions[4].get(f"{sim.url}/tasks").status_code == 200
        assert sessions[3].get(f"{sim.url}/tasks").status_code == 429  # bob's, by both tokens
        for session in sessions:
            session.close()


def test_full_syncs_have_their_own_limit_per_account() -> None:
    assert (SimConfig().full_sync_limit, SimConfig().full_sync_window_seconds) == (100, 900.0)
    assert (WORST_CASE["full_sync_limit"], WORST_CASE["full_sync_window_seconds"]) == (100, 900.0)
    with Simulator(
        SimConfig(seed=1), tokens={"alice": [TOKEN, "tok-two"], "bob": OTHER_TOKEN}
    ) as sim:
        sim.configure(full_sync_limit=2, full_sync_window_seconds=60)
        alice, alice_two, bob = (session_for(t) for t in (TOKEN, "tok-two", OTHER_TOKEN))
        body = {"sync_token": "*", "resource_types": ["items"]}
        first = alice.post(f"{sim.url}/sync", json=body)
        # An unknown token is answered with a full sync, so it counts as one.
        assert alice_two.post(f"{sim.url}/sync", json={**body, "sync_token": "bogus"}).json()[
            "full_sync"
        ]
        refused = alice.post(
            f"{sim.url}/sync",
            json={**body, "commands": [command("item_add", "x", content="not applied")]},
        )
        assert refused.status_code == 429
        assert refused.json()["error_tag"] == "LIMITS_REACHED"
        wait = refused.json()["error_extra"]["retry_after"]
        assert 1 <= wait <= 60 and refused.headers["Retry-After"] == str(wait)
        assert sim.tasks("alice") == []  # nothing of a refused request runs
        assert alice_two.post(f"{sim.url}/sync", json=body).status_code == 429  # same account
        # Incremental reads, commands and other accounts are not held back.
        token = first.json()["sync_token"]
        assert alice.post(f"{sim.url}/sync", json={**body, "sync_token": token}).status_code == 200
        assert sync(sim, alice, [command("item_add", "y", content="applied")])["sync_status"]
        assert bob.post(f"{sim.url}/sync", json=body).status_code == 200
        stats = sim.stats()
        assert stats["responses_429_full_sync"] == 2 and stats["sync_reads_full"] == 3

        sim.configure(full_sync_limit=None)
        assert alice.post(f"{sim.url}/sync", json=body).status_code == 200
        for bad in ({"full_sync_limit": 0}, {"full_sync_window_seconds": 0}):
            with pytest.raises(ValueError):
                sim.configure(**bad)
        for session in (alice, alice_two, bob):
            session.close()
    assert parse_config(["--full-sync-limit", "7"]).full_sync_limit == 7
    assert parse_config(["--full-sync-limit", "0"]).full_sync_limit is None
    assert parse_config(["--full-sync-window-seconds", "5"]).full_sync_window_seconds == 5.0


def test_the_command_line_gives_one_account_several_tokens() -> None:
    parser = _parser()
    args = parser.parse_args(["--account", "alice=tok-1", "--account", "alice=tok-2"])
    assert _cli_tokens(parser, args) == {"alice": ("tok-1", "tok-2")}
    with Simulator(SimConfig(), _cli_tokens(parser, args)) as sim:
        assert sim.accounts == ["alice"]
        users = {session_for(t).get(f"{sim.url}/user").json()["id"] for t in ("tok-1", "tok-2")}
        assert len(users) == 1
