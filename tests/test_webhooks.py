"""Todoist's webhooks: verified, deduplicated, mapped to users; an echo of our own write or an
unknown item is ignored; a person's change queues one debounced reconcile, and nothing calls
Todoist inline (`rsps`: any request would fail the test)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from django.test import Client

from tests.factories import make_map
from todoist_sync.models import SyncRun, TodoistAccount, TodoistCredential, TodoistProject
from todoist_sync.services.safety_net import safety_net_slice
from todoist_sync.tokens import encrypt_token
from todoist_sync.webhooks import webhook_counters

SECRET = "bot-client-secret-123"
URL = "/todoist/webhooks"
PUSHED = {
    "content": "Buy milk",
    "description": "",
    "priority": 1,
    "due_date": None,
    "done": False,
    "blocked": False,
    "project": "Planner",
}
ITEM = {
    "id": "td-1",
    "content": "Buy milk",
    "description": "",
    "priority": 1,
    "due": None,
    "checked": False,
    "labels": [],
    "project_id": "p-1",
    "is_deleted": False,
}


@pytest.fixture
def oauth_on(settings):
    settings.TODOIST_CLIENT_ID = "bot-client"
    settings.TODOIST_CLIENT_SECRET = SECRET
    settings.TODOIST_OAUTH_REDIRECT_URL = "https://bot.example/todoist/oauth/callback"
    settings.TODOIST_SYNC_ON_CHANGE = False


@pytest.fixture
def mapped(oauth_on, user):
    TodoistCredential.objects.create(
        user=user,
        token_encrypted=encrypt_token("oauth-token-of-alice"),
        token_last4="lice",
        kind="oauth",
        todoist_user_id="u-1",
    )
    account = TodoistAccount.objects.create(user=user, key="k", todoist_user_id="u-1")
    TodoistProject.objects.create(account=account, name="Planner", todoist_project_id="p-1")
    return make_map(user, todoist_task_id="td-1", pushed=PUSHED, account=account)


def deliver(event: dict, *, delivery_id: str = "d-1", secret: str = SECRET, signature=None):
    body = json.dumps(event).encode()
    if signature is None:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        signature = base64.b64encode(digest).decode()
    headers = {"HTTP_X_TODOIST_DELIVERY_ID": delivery_id}
    if signature:
        headers["HTTP_X_TODOIST_HMAC_SHA256"] = signature
    return Client().post(URL, data=body, content_type="application/json", **headers)


def event(item: dict | None = None, *, name: str = "item:updated", user_id: str = "u-1") -> dict:
    return {
        "event_name": name,
        "user_id": user_id,
        "event_data": {**ITEM, **(item or {})},
        "initiator": {"id": user_id},
        "version": "10",
        "triggered_at": "2025-01-01T00:00:00Z",
    }


def webhook_runs() -> list[SyncRun]:
    return list(SyncRun.objects.filter(trigger="webhook"))


def test_a_persons_change_queues_one_reconcile(mapped, queued_jobs, rsps):
    answer = deliver(event({"content": "Buy oat milk"}))
    assert answer.status_code == 200 and answer.json()["code"] == "accepted"
    [run] = webhook_runs()
    assert run.reconcile and run.user_id == mapped.user_id
    # More changes while it is queued: the same run, not another.
    deliver(event({"priority": 4}), delivery_id="d-2")
    deliver(event({"checked": True}, name="item:completed"), delivery_id="d-3")
    assert webhook_runs() == [run]
    assert webhook_counters()["accepted"] == 3


def test_an_echo_of_our_own_write_is_ignored(mapped, queued_jobs, rsps):
    answer = deliver(event())
    assert answer.status_code == 200 and answer.json()["code"] == "ignored"
    assert webhook_runs() == []
    # What the sync is pushing right now is ours too.
    mapped.inflight = {"commands": [], "achieved": {**PUSHED, "content": "Buy bread"}}
    mapped.save()
    assert deliver(event({"content": "Buy bread"}), delivery_id="d-2").json()["code"] == "ignored"
    assert webhook_runs() == []


def project_event(**changes) -> dict:
    project = {"id": "p-1", "name": "Planner", "is_deleted": False, "is_archived": False}
    return {**event(name="project:updated"), "event_data": {**project, **changes}}


def test_an_echo_of_our_own_project_is_ignored_a_persons_change_is_not(mapped, queued_jobs, rsps):
    # Our project as we made it (the echo of our project_add): nothing to look at.
    assert deliver(project_event()).json()["code"] == "ignored"
    assert deliver(project_event(id="p-other"), delivery_id="d-2").json()["code"] == "ignored"
    assert webhook_runs() == []
    # A person renamed it, or archived it: the reconcile reads what became of it.
    assert deliver(project_event(name="Work"), delivery_id="d-3").json()["code"] == "accepted"
    archived = project_event(is_archived=True)
    assert deliver(archived, delivery_id="d-4").json()["code"] == "accepted"
    assert len(webhook_runs()) == 1


def test_an_item_no_mapping_knows_is_ignored(mapped, queued_jobs, rsps):
    answer = deliver(event({"id": "someone-elses", "content": "Other"}))
    assert answer.json()["code"] == "ignored"
    assert webhook_runs() == []


def test_an_unknown_user_is_ignored(mapped, queued_jobs, rsps):
    answer = deliver(event({"content": "Changed"}, user_id="u-unknown"))
    assert answer.status_code == 200 and answer.json()["code"] == "ignored"
    assert webhook_runs() == []
    assert webhook_counters()["ignored"] == 1


@pytest.mark.parametrize("signature", ["", "Zm9yZ2Vk", "forged"])
def test_an_unsigned_or_forged_delivery_is_403_and_queues_nothing(
    mapped, queued_jobs, rsps, signature
):
    answer = deliver(event({"content": "Changed"}), signature=signature)
    assert answer.status_code == 403
    assert webhook_runs() == []
    assert webhook_counters()["rejected"] == 1


def test_signed_with_another_secret_is_forged(mapped, queued_jobs, rsps):
    answer = deliver(event({"content": "Changed"}), secret="not-our-secret")
    assert answer.status_code == 403 and webhook_runs() == []


def test_a_replayed_delivery_is_ignored(mapped, queued_jobs, rsps):
    first = deliver(event({"content": "Changed"}), delivery_id="same")
    assert first.json()["code"] == "accepted"
    SyncRun.objects.update(state=SyncRun.State.SUCCEEDED)  # the run is done
    again = deliver(event({"content": "Changed"}), delivery_id="same")
    assert again.status_code == 200 and again.json()["code"] == "ignored"
    assert len(webhook_runs()) == 1


def test_webhooks_off_answers_404(user, queued_jobs, rsps):
    answer = deliver(event())
    assert answer.status_code == 404


def test_status_and_metrics_show_webhooks(mapped, queued_jobs, rsps, api_client, settings):
    settings.METRICS_TOKEN = "scrape-token"
    deliver(event({"content": "Changed"}))
    deliver(event(), delivery_id="d-2")
    deliver(event(), signature="forged")
    status = api_client.get("/v1/sync/todoist/status").json()
    assert status["webhooks"]["accepted"] == 1
    assert status["webhooks"]["ignored"] == 1
    assert status["webhooks"]["rejected"] == 1
    assert status["webhooks"]["last_at"] is not None
    scraper = {"Authorization": "Bearer scrape-token"}
    metrics = Client().get("/metrics", headers=scraper).content.decode()
    assert 'todoist_sync_webhooks_total{outcome="accepted"} 1.0' in metrics
    assert 'todoist_sync_webhooks_total{outcome="rejected"} 1.0' in metrics
    assert "todoist_sync_webhook_last_received_timestamp_seconds" in metrics


def test_safety_net_reconciles_oauth_users_only_as_a_backstop(
    mapped, queued_jobs, settings, other_user
):
    from datetime import timedelta

    from django.utils import timezone

    settings.TODOIST_RECONCILE_HOURS = 24
    SyncRun.objects.create(
        job_id="old",
        user=mapped.user,
        state=SyncRun.State.SUCCEEDED,
        reconcile=True,
        reconciled_at=timezone.now() - timedelta(hours=2),
    )
    safety_net_slice(user_ids=[mapped.user_id, other_user.pk])
    runs = {r.user_id: r for r in SyncRun.objects.filter(trigger="safety-net")}
    assert runs[mapped.user_id].reconcile is False  # read 2 h ago: webhooks tell the rest
    assert runs[other_user.pk].reconcile is True  # the shared token: no webhooks
    SyncRun.objects.filter(trigger="safety-net").delete()
    SyncRun.objects.filter(job_id="old").update(reconciled_at=timezone.now() - timedelta(hours=25))
    safety_net_slice(user_ids=[mapped.user_id])
    assert SyncRun.objects.get(trigger="safety-net").reconcile is True
