"""The room left in a user's projects (`ProjectDirectory`'s cap bookkeeping), with a transport
that refuses to be used: counting, taking and giving back room sends no request."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.factories import make_map
from tests.unit.builders import PROJECT
from tests.unit.conftest import NoTransport
from todoist_sync.models import TodoistAccount, TodoistProject
from todoist_sync.services.projects import INBOX, ProjectDirectory, full_reason

pytestmark = pytest.mark.django_db

MAX = 3


@pytest.fixture(autouse=True)
def small_projects(settings):
    settings.TODOIST_PROJECT_MAX_TASKS = MAX
    settings.TODOIST_SYNC_ON_CHANGE = False  # the tasks made here queue no run


def mapped(user, project, *, title, todoist_id, done=False):
    pushed = None if todoist_id is None else {"content": title, "done": done}
    return make_map(user, title=title, todoist_task_id=todoist_id, pushed=pushed, project=project)


def test_count_room_counts_our_open_tasks_in_todoist(user, other_user, directory):
    planner = directory.project(PROJECT)
    mapped(user, planner, title="Open", todoist_id="td-1")
    mapped(user, planner, title="Done", todoist_id="td-2", done=True)  # takes no place
    mapped(user, planner, title="Unsent", todoist_id=None)  # not in Todoist (yet)
    # Another user's project of the same name is another account's.
    theirs = TodoistProject.objects.create(
        account=TodoistAccount.objects.create(user=other_user, key="key-2"),
        name=PROJECT,
    )
    mapped(other_user, theirs, title="Theirs", todoist_id="td-3")
    directory.count_room([PROJECT, "Unknown"])
    assert [directory.take_room(PROJECT) for _ in range(MAX)] == [
        None,
        None,
        full_reason(PROJECT),  # MAX - 1 open = 2 places
    ]
    assert directory.take_room("Unknown") is None  # not made yet: empty


@pytest.mark.parametrize(
    ("setup", "name", "takes", "answers"),
    [
        pytest.param({}, PROJECT, [True] * 4, [None, None, None, "full"], id="room-runs-out"),
        # A task created only to be closed needs a place for a moment and gives it back.
        pytest.param({}, PROJECT, [False] * 4 + [True], [None] * 5, id="created-closed-keep-room"),
        pytest.param({"room": 0}, PROJECT, [False], ["full"], id="no-room-not-even-a-moment"),
        # A project stored as full is tried once a run (a close elsewhere may have made room).
        pytest.param({"full": True}, PROJECT, [True, True], [None, "full"], id="full-probed-once"),
        pytest.param({"refused": "Todoist refused it"}, PROJECT, [True], ["Todoist refused it"],
                     id="refused"),
        # The inbox's count is not ours to know: Todoist's answer tells.
        pytest.param({"room": 0}, INBOX, [True] * 5, [None] * 5, id="inbox-never-full"),
    ],
)  # fmt: skip
def test_take_room(directory, setup, name, takes, answers):
    project = directory.project(PROJECT)
    if "full" in setup:
        project.full_since = timezone.now()
    project.refused_reason = setup.get("refused", "")
    if "room" in setup:
        directory.count_room([PROJECT])
        for _ in range(MAX):
            directory.take_room(PROJECT)
    expected = [full_reason(name) if a == "full" else a for a in answers]
    assert [directory.take_room(name, stays_open=t) for t in takes] == expected


def test_mark_full_is_stored_for_the_next_run(user, directory, events):
    directory.mark_full(PROJECT)
    assert TodoistProject.objects.get(name=PROJECT).full_since is not None
    next_run = ProjectDirectory(
        user_id=user.pk, account_key="key-1", transport=NoTransport(), events=events
    )
    assert [next_run.take_room(PROJECT), next_run.take_room(PROJECT)] == [
        None,  # its one try
        full_reason(PROJECT),
    ]


def test_mark_room_clears_full_and_lets_the_waiting_tasks_go(user, directory):
    planner = directory.project(PROJECT)
    waiting = make_map(user, title="Waiting", project=planner, waiting_reason=full_reason(PROJECT))
    make_map(user, title="Not waiting", project=planner)
    directory.mark_full(PROJECT)
    directory.mark_room(PROJECT)
    assert TodoistProject.objects.get(name=PROJECT).full_since is None
    assert directory.take_room(PROJECT) is None  # one place
    assert directory.take_room(PROJECT) == full_reason(PROJECT)
    assert directory.waiting_for_room() == [waiting.local_task_id]
    assert directory.waiting_for_room() == []  # each close lets them go once


def test_a_project_todoist_just_called_full_gets_no_second_try_this_run(directory):
    # The refused create was this run's one try: another would be refused the same way.
    directory.mark_full(PROJECT)
    assert directory.take_room(PROJECT) == full_reason(PROJECT)
