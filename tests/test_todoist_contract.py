"""Contract tests: the simulator's answers against Doist's own SDK models, and every `/sync`
command the engine sends against the arguments that command accepts.

`todoist-api-python` 4.0.0 (the official SDK, a dev requirement only) parses tasks and
projects with `Task.from_dict` / `Project.from_dict`; if the simulator drifted from Todoist's
shapes, or the engine relied on a field Todoist does not send, this is where it shows.
"""

from __future__ import annotations

from typing import Any

import pytest
from todoist_api_python.models import Project as SdkProject
from todoist_api_python.models import Task as SdkTask

from planner.models import Task
from todoist_sync import services
from todoist_sync.models import TodoistChatProject
from todoist_sync.services.credentials import todoist_client

pytestmark = pytest.mark.django_db


# The arguments of each /sync command the engine may send, from the v1 reference ("Sync",
# "Tasks" and "Projects" commands). Required ones first; `one_of`: exactly one of them.
COMMANDS: dict[str, dict[str, Any]] = {
    "item_add": {
        "required": {"content"},
        "optional": {
            "description", "project_id", "due", "deadline", "priority", "parent_id",
            "child_order", "section_id", "day_order", "collapsed", "labels", "assigned_by_uid",
            "responsible_uid", "auto_reminder", "auto_parse_labels", "duration",
        },
    },
    "item_update": {
        "required": {"id"},
        "optional": {
            "content", "description", "due", "deadline", "priority", "collapsed", "labels",
            "assigned_by_uid", "responsible_uid", "day_order", "duration",
        },
    },
    "item_move": {
        "required": {"id"},
        "optional": set(),
        "one_of": {"project_id", "section_id", "parent_id"},
    },
    "item_close": {"required": {"id"}, "optional": set()},
    "item_uncomplete": {"required": {"id"}, "optional": set()},
    "project_add": {
        "required": {"name"},
        "optional": {"color", "parent_id", "child_order", "is_favorite", "view_style"},
    },
}  # fmt: skip
NEEDS_TEMP_ID = {"item_add", "project_add"}


class RecordingClient:
    """The real adapter, keeping every command it sends."""

    def __init__(self, token: str) -> None:
        self.client = todoist_client(token=token)
        self.commands: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def sync(self, commands=(), **kwargs):
        self.commands.extend(commands)
        return self.client.sync(commands, **kwargs)


def problems_of(command: dict[str, Any]) -> list[str]:
    spec = COMMANDS.get(command["type"])
    if spec is None:
        return [f"{command['type']} is no command we know the arguments of"]
    args = set(command["args"])
    allowed = spec["required"] | spec["optional"] | spec.get("one_of", set())
    found = [f"missing {sorted(spec['required'] - args)}"] if spec["required"] - args else []
    if args - allowed:
        found.append(f"unknown {sorted(args - allowed)}")
    if "one_of" in spec and len(args & spec["one_of"]) != 1:
        found.append(f"needs exactly one of {sorted(spec['one_of'])}")
    if (command["type"] in NEEDS_TEMP_ID) != ("temp_id" in command):
        found.append("temp_id where it does not belong, or missing")
    a = command["args"]
    if "priority" in a and a["priority"] not in (1, 2, 3, 4):
        found.append(f"priority {a['priority']!r}")
    if "due" in a and a["due"] is not None and set(a["due"]) != {"date"}:
        found.append(f"due {a['due']!r}")
    if "labels" in a and not all(isinstance(label, str) for label in a["labels"]):
        found.append("labels not names")
    for key in ("id", "project_id", "content", "name"):
        if key in a and not (isinstance(a[key], str) and a[key]):
            found.append(f"{key} {a[key]!r}")
    return found


def test_every_command_the_engine_sends_is_one_todoist_accepts(user, sim, sim_token):
    recorder = RecordingClient(sim_token)

    def run():
        result = services.sync_run_execute(user_id=user.pk, client=recorder)
        assert result.failed == 0, result.error_summary

    task = Task.objects.create(user=user, title="All of it", priority=1, description="d")
    blocked = Task.objects.create(user=user, title="Blocked", status="blocked", chat_id=7)
    Task.objects.create(user=user, title="Done at once", status="done")
    run()
    task.title, task.due_date = "Renamed", "2030-01-02"
    task.save()
    blocked.status = "open"
    blocked.save()
    run()
    task.status, task.due_date = "done", None
    task.save()
    run()
    task.status = "open"
    task.save()
    TodoistChatProject.objects.create(user=user, chat_id=7, project_name="Chat seven")
    run()

    kinds = {c["type"] for c in recorder.commands}
    assert kinds == set(COMMANDS), f"the scenario should send every kind, sent {kinds}"
    wrong = {c["uuid"]: problems_of(c) for c in recorder.commands if problems_of(c)}
    assert not wrong, wrong


def test_the_contract_table_catches_a_wrong_command():
    assert problems_of({"type": "item_update", "uuid": "u", "args": {"id": "1", "project_id": "2"}})
    assert problems_of({"type": "item_add", "uuid": "u", "args": {"content": "x"}})  # temp_id
    assert problems_of({"type": "item_move", "uuid": "u", "args": {"id": "1"}})
    assert problems_of({"type": "item_close", "uuid": "u", "args": {"id": 5}})
    assert not problems_of({"type": "item_close", "uuid": "u", "args": {"id": "5"}})


def test_the_sdk_parses_every_task_and_project_the_simulator_answers(user, sim, sim_token):
    for n in range(3):
        Task.objects.create(user=user, title=f"t{n}", due_date=f"2030-01-0{n + 1}")
    Task.objects.create(user=user, title="done", status="done")
    services.sync_run_execute(user_id=user.pk)
    client = todoist_client(token=sim_token)
    everything = client.sync(sync_token="*", resource_types=["items", "projects"])
    listed = client.list_tasks(ids=[t["id"] for t in sim.tasks("alice")])

    tasks = [*everything.items, *listed, *sim.tasks("alice")]
    projects = [*everything.projects, *sim.projects("alice")]
    assert len(tasks) >= 8 and len(projects) >= 4
    parsed = [SdkTask.from_dict(t) for t in tasks]
    assert {t.content for t in parsed} >= {"t0", "t1", "t2", "done"}
    assert all(isinstance(t.id, str) and t.project_id for t in parsed)
    names = {SdkProject.from_dict(p).name for p in projects}
    assert {"Inbox", "Planner (alice)"} <= names
