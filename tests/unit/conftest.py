"""Fixtures of the unit tests: a run's tally, its event buffer, and a project directory whose
transport refuses to be used (none of the code under test may send a request)."""

from __future__ import annotations

import pytest

from tests.unit.builders import PROJECT
from todoist_sync.events import EventBuffer
from todoist_sync.models import SyncRun, TodoistProject
from todoist_sync.services.projects import ProjectDirectory


class NoTransport:
    """A transport stub: any use of it is a request the code under test should not send."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the code under test used the transport ({name})")


@pytest.fixture
def events() -> EventBuffer:
    return EventBuffer(user_id=1, job_id="job-1")


@pytest.fixture
def run() -> SyncRun:
    """The run's tally, unsaved: the policy only adds to its counters."""
    return SyncRun(user_id=1, job_id="job-1")


@pytest.fixture
def directory(user, events) -> ProjectDirectory:
    """The user's projects in one account: "Planner", known in Todoist as pr-1."""
    projects = ProjectDirectory(
        user_id=user.pk, account_key="key-1", transport=NoTransport(), events=events
    )
    TodoistProject.objects.create(account=projects.account, name=PROJECT, todoist_project_id="pr-1")
    return projects
