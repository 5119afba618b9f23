"""`manage.py sync_todoist` on a terminal: a progress bar (tqdm) for a round of more than two
batches; elsewhere (a pipe, these tests' StringIO, CI) the plain lines of test_sync_command.py."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from planner.models import Task

pytestmark = pytest.mark.django_db


class Terminal(io.StringIO):
    """What the command writes to, as a terminal would look to it."""

    def isatty(self) -> bool:
        return True


def sync_on_terminal(*args: str) -> str:
    out = Terminal()
    call_command("sync_todoist", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_round_over_two_batches_shows_a_bar(user, todoist, settings):
    settings.TODOIST_BATCH_SIZE = 2
    Task.objects.bulk_create(Task(user=user, title=f"Task {i}") for i in range(7))

    out = sync_on_terminal("--user", "alice")

    assert len(todoist.task_commands()) == 7
    assert "commands sent" not in out  # no line per batch: the bar moves instead
    assert "alice: 100%" in out and "7/7" in out
    assert "alice: succeeded: created 7" in out


def test_a_small_round_prints_its_lines_on_a_terminal_too(user, todoist, settings):
    settings.TODOIST_BATCH_SIZE = 2
    Task.objects.bulk_create(Task(user=user, title=f"Task {i}") for i in range(4))

    out = sync_on_terminal("--user", "alice")

    assert "alice: round: 4 task(s) to push" in out
    assert "alice: batch 3: 1 commands sent" in out  # the project's add rides in batch 1
    assert "%|" not in out


def test_quiet_shows_no_bar(user, todoist, settings):
    settings.TODOIST_BATCH_SIZE = 2
    Task.objects.bulk_create(Task(user=user, title=f"Task {i}") for i in range(7))

    assert sync_on_terminal("--user", "alice", "--verbosity", "0") == ""
