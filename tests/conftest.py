from __future__ import annotations

import json
from unittest import mock

import pytest
import responses
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
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
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def queued_jobs():
    """The queue replaced at its seam (`services.runs.queue_job`): a queued run is recorded on
    this mock and its job never runs."""
    with mock.patch("todoist_sync.services.runs.queue_job") as queue_job:
        yield queue_job


@pytest.fixture
def rsps():
    """`responses` on: a request nobody registered fails, and so does an answer left unused."""
    with responses.RequestsMock() as mocked:
        yield mocked


@pytest.fixture
def todoist(settings):
    """Todoist at TODOIST_API_URL served by `responses`: a request nobody registered fails.

    /sync is registered. It answers "ok" to every command but those whose content is in
    `todoist.rejected` (INVALID_CONTENT), maps each temp id to "td-<content>" (so tasks created
    together need distinct titles), and keeps the commands it got in `todoist.sent`. A test
    registers any other endpoint itself (`todoist.add`, `todoist.replace`).
    """
    sent: list[dict] = []
    rejected: set[str] = set()

    def answer(request):
        commands = json.loads(request.body)["commands"]
        sent.extend(commands)
        status = {
            c["uuid"]: INVALID_CONTENT if c["args"].get("content") in rejected else "ok"
            for c in commands
        }
        ids = {c["temp_id"]: f"td-{c['args']['content']}" for c in commands if "temp_id" in c}
        return 200, {}, json.dumps({"sync_status": status, "temp_id_mapping": ids})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_callback(responses.POST, f"{settings.TODOIST_API_URL}/sync", callback=answer)
        mocked.sent, mocked.rejected = sent, rejected
        yield mocked


@pytest.fixture
def sim_token() -> str:
    """The token of the simulator's account "alice" (`sim` puts it in TODOIST_API_TOKEN)."""
    return "sim-token-7f3a9c"


@pytest.fixture
def sim(settings, sim_token):
    """The Todoist simulator with one account, "alice", which the settings point the sync at
    (batches on)."""
    # Imported here: only the tests that use the simulator depend on it.
    from todoist_sim import SimConfig, Simulator

    with Simulator(SimConfig(seed=1), tokens={"alice": sim_token}) as simulator:
        settings.TODOIST_API_URL = simulator.url
        settings.TODOIST_API_TOKEN = sim_token
        settings.TODOIST_USE_BATCH = True
        yield simulator
