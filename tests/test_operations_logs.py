"""LOG_FORMAT=json: one JSON object per line (python-json-logger), with the sync run's job, run
and user ids on the lines logged during a run, and never a token."""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import make_task, run_sync, run_through_every_failure
from todoist_sync.models import SyncRun

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def json_log(settings):
    """The project's LOGGING with the JSON formatter, at DEBUG, written to a buffer."""
    stream = io.StringIO()
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"].update(formatter="json", stream=stream)
    config["root"]["level"] = "DEBUG"
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        logging.config.dictConfig(settings.LOGGING)


def lines_of(stream: io.StringIO) -> list[dict]:
    """Every line is one JSON object."""
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert records and all(isinstance(record, dict) for record in records)
    return records


def test_a_run_logs_json_lines_with_its_ids(json_log, user, sim):
    make_task(user, "Logged")

    run = run_sync(user)

    records = lines_of(json_log)
    finished = [r for r in records if r["message"].startswith("todoist sync run succeeded")]
    assert len(finished) == 1
    assert finished[0]["level"] == "INFO" and finished[0]["logger"].startswith("todoist_sync")
    assert (finished[0]["job_id"], finished[0]["run_id"], finished[0]["user_id"]) == (
        run.job_id,
        run.pk,
        user.pk,
    )
    assert finished[0]["time"].endswith("+00:00")
    # Requests sent on the run's thread carry them too (the account's read here); the /sync
    # batches the pusher sends from its own threads do not (a contextvar stays on its thread).
    sent = [r for r in records if r["message"].startswith("todoist POST")]
    assert sent and all(r.get("job_id") in (run.job_id, None) for r in sent)
    assert any(r.get("user_id") == user.pk for r in sent)


def test_lines_outside_a_run_carry_no_run_ids(json_log):
    logging.getLogger("planner").warning("not in a run")
    (record,) = [r for r in lines_of(json_log) if r["message"] == "not in a run"]
    assert not {"job_id", "run_id", "user_id"} & set(record)


def test_a_json_log_of_failing_runs_never_holds_the_token(json_log, user, sim, sim_token, settings):
    run_through_every_failure(user, sim, sim_token, settings)

    records = lines_of(json_log)
    assert {r["level"] for r in records} >= {"DEBUG", "INFO"}
    assert SyncRun.objects.filter(state="failed").exists()
    assert sim_token not in json_log.getvalue()
    assert sim_token[-8:] not in json_log.getvalue()


def test_log_format_json_from_the_environment():
    """The setting itself, in a process of its own: a warning is one JSON line on stderr."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "LOG_FORMAT": "json",
    }
    code = "import logging; logging.getLogger('planner').warning('hello %s', 'operator')"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (line,) = result.stderr.splitlines()
    assert json.loads(line) | {"time": "t"} == {
        "level": "WARNING",
        "logger": "planner",
        "message": "hello operator",
        "time": "t",
    }
