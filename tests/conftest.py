from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from unittest import mock

import pytest
import requests
import responses
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

# Todoist's answer to a command whose content it refuses (as the `todoist` fixture gives it).
INVALID_CONTENT = {
    "error": "Invalid argument value",
    "error_code": 20,
    "error_tag": "INVALID_ARGUMENT_VALUE",
    "http_code": 400,
    "error_extra": {"argument": "content"},
}


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user(username="alice", password="pw-alice-123")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user(username="bob", password="pw-bob-123")


@pytest.fixture
def api_client(user) -> APIClient:
    from knox.models import AuthToken  # here: the reuse project (tests/reuse) has no knox

    client = APIClient()
    _, key = AuthToken.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def queued_jobs():
    """The queue replaced at its seam (`services.enqueue.queue_job`): a queued run is recorded on
    this mock and its job never runs."""
    with mock.patch("todoist_sync.services.enqueue.queue_job") as queue_job:
        yield queue_job


@pytest.fixture
def rsps():
    """`responses` on: a request nobody registered fails, and so does an answer left unused."""
    with responses.RequestsMock() as mocked:
        yield mocked


INBOX = {"id": "inbox-1", "name": "Inbox", "inbox_project": True, "is_deleted": False}


@pytest.fixture
def todoist(settings):
    """Todoist at TODOIST_API_URL served by `responses`: a request nobody registered fails.

    /sync is registered. It answers "ok" to every command but those whose content is in
    `todoist.rejected` (INVALID_CONTENT), maps each item temp id to "td-<content>" (so tasks
    created together need distinct titles) and each project temp id to "pr-<name>", and keeps
    the commands it got in `todoist.sent` (`todoist.task_commands()`: all but project_add).
    A read (`sync_token`) answers the Inbox and the projects made so far, no items, and a new
    token; reads are kept in `todoist.reads`. `todoist.lose` drops the answers of that many
    requests that carry commands (after applying them, as a lost answer does). A test
    registers any other endpoint itself (`todoist.add`, `todoist.replace`).
    """
    sent: list[dict] = []
    rejected: set[str] = set()
    projects: list[dict] = [INBOX]
    reads: list[dict] = []

    def answer(request):
        body = json.loads(request.body)
        commands = body.get("commands", [])
        sent.extend(commands)
        status = {
            c["uuid"]: INVALID_CONTENT if c["args"].get("content") in rejected else "ok"
            for c in commands
        }
        ids = {}
        for c in commands:
            if c["type"] == "project_add":
                ids[c["temp_id"]] = f"pr-{c['args']['name']}"
                projects.append({"id": ids[c["temp_id"]], "name": c["args"]["name"]})
            elif "temp_id" in c:
                ids[c["temp_id"]] = f"td-{c['args']['content']}"
        if commands and mocked.lose:
            mocked.lose -= 1
            raise requests.ConnectionError("answer lost")
        answer = {"sync_status": status, "temp_id_mapping": ids}
        if "sync_token" in body:
            reads.append(body)
            answer.update(
                sync_token=f"tok-{len(reads)}",
                full_sync=body["sync_token"] == "*",
                projects=[{**p, "is_deleted": False} for p in projects],
                items=[],
                user={"id": "todoist-user-1"},
            )
        return 200, {}, json.dumps(answer)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_callback(responses.POST, f"{settings.TODOIST_API_URL}/sync", callback=answer)
        mocked.sent, mocked.rejected, mocked.reads, mocked.lose = sent, rejected, reads, 0
        mocked.task_commands = lambda: [c for c in sent if not c["type"].startswith("project_")]
        yield mocked


@pytest.fixture
def sim_token() -> str:
    """The token of the simulator's account "alice" (`sim` puts it in TODOIST_API_TOKEN)."""
    return "sim-token-7f3a9c"


@pytest.fixture
def sim_accounts(sim_token) -> dict[str, str]:
    """The simulator's accounts and their tokens: "alice" alone. A test module that needs more
    overrides this fixture."""
    return {"alice": sim_token}


@pytest.fixture
def sim(settings, sim_token, sim_accounts):
    """The Todoist simulator with the `sim_accounts`; the settings point the sync at "alice"
    (batches on)."""
    # Imported here: only the tests that use the simulator depend on it.
    from todoist_sim import SimConfig, Simulator

    with Simulator(SimConfig(seed=1), tokens=sim_accounts) as simulator:
        settings.TODOIST_API_URL = simulator.url
        settings.TODOIST_API_TOKEN = sim_token
        settings.TODOIST_USE_BATCH = True
        yield simulator


@dataclass
class Clock:
    """A clock the test moves: `time()` is `now`, and `sleep` moves `now` on (and records the
    wait) instead of waiting."""

    now: float
    slept: list[float] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The request budget's clock (`time.time()` in `services.budget`), stopped at a
    whole second of now; pass `sleep=clock.sleep` to a run so that its waits move it on."""
    stopped = Clock(now=float(int(time.time())))
    monkeypatch.setattr("todoist_sync.services.budget.time", stopped)
    return stopped


@pytest.fixture(autouse=True)
def fresh_throttles():
    """The API's throttle counts live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """The tests in real processes first, the soaks first of all (after pytest-django's own
    order, which they do not need: they run on databases of their own). Under pytest-xdist the
    longest tests then start at once, on every worker, instead of being left for the end."""

    def weight(item: pytest.Item) -> int:
        if item.get_closest_marker("e2e") is None:
            return 2
        return 0 if item.get_closest_marker("soak") else 1

    items.sort(key=weight)
