"""Each Todoist account kept apart: a mapping records the account its task lives in, a token
of another Todoist user starts afresh there (the old account is left as it is), and a user who
disconnects their own token is not moved into the shared account unless the operator says so."""

from __future__ import annotations

import pytest

from tests.factories import make_task, run_sync, sim_tasks
from todoist_sync import selectors, services
from todoist_sync.models import TodoistCredential, TodoistTaskMap
from todoist_sync.tokens import encrypt_token

pytestmark = pytest.mark.django_db

OWN_TOKEN = "sim-token-own-account-2"


@pytest.fixture
def sim_accounts(sim_token) -> dict[str, str]:
    """Alice's shared account, and her own (reached with her own token)."""
    return {"alice": sim_token, "alices-own": OWN_TOKEN}


def connect_own_token(user):
    TodoistCredential.objects.create(
        user=user, token_encrypted=encrypt_token(OWN_TOKEN), token_last4=OWN_TOKEN[-4:]
    )


def test_a_mapping_records_the_account_its_task_lives_in(user, sim):
    make_task(user, "here")
    run_sync(user)
    mapping = TodoistTaskMap.objects.get()
    owner = sim.person_add_task("alice", "a person's task")["user_id"]  # the account's user
    assert mapping.account.todoist_user_id == str(owner)


def test_a_token_of_another_account_creates_the_tasks_afresh_and_leaves_the_old_one(user, sim):
    """Before: after connecting their own token, the user's mappings still pointed into the
    shared account: one error, and one "synced" task that did not exist there."""
    make_task(user, "moves with me")
    make_task(user, "done already", status="done")
    run_sync(user)
    shared_before = sim_tasks(sim, "alice")
    assert selectors.account_changed_at(user_id=user.pk) is None

    connect_own_token(user)
    run = run_sync(user)
    assert (run.state, run.created, run.failed) == ("succeeded", 2, 0)
    own = {t["content"]: t for t in sim_tasks(sim, "alices-own")}
    assert set(own) == {"moves with me", "done already"} and own["done already"]["checked"]
    assert sim_tasks(sim, "alice") == shared_before  # the old account is left untouched
    assert {m.todoist_task_id for m in TodoistTaskMap.objects.all()} == {
        t["id"] for t in own.values()
    }
    assert selectors.account_changed_at(user_id=user.pk) is not None
    assert run_sync(user).requests == 0


def test_disconnecting_does_not_move_a_user_into_the_shared_account(user, sim, settings):
    """Before: with the default TODOIST_SHARED_TOKEN_USERS ("*"), after disconnecting
    (`DELETE /v1/sync/todoist/token`), the next run pushed the user's tasks into the operator's
    shared account. The default is nobody now."""
    del settings.TODOIST_SHARED_TOKEN_USERS  # the default, not the test settings' "*"
    connect_own_token(user)
    make_task(user, "private")
    run_sync(user)
    services.todoist_credential_disconnect(user=user)
    make_task(user, "still private")
    run = run_sync(user)
    assert run.state == "failed" and "No Todoist token" in run.error_summary
    assert sim_tasks(sim, "alice") == []


def test_a_user_opted_in_by_name_is_synced_with_the_shared_token_after_disconnecting(
    user, sim, settings
):
    settings.TODOIST_SHARED_TOKEN_USERS = "bob, alice"
    connect_own_token(user)
    make_task(user, "private")
    run_sync(user)
    services.todoist_credential_disconnect(user=user)
    run = run_sync(user)
    assert (run.state, run.created) == ("succeeded", 1)
    assert [t["content"] for t in sim_tasks(sim, "alice")] == ["private"]
