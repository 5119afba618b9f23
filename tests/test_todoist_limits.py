"""The engine against Todoist's real limits, with the simulator doing the worst plausible thing
wherever Todoist is undocumented (its defaults, as conftest's `sim` has them): projects and the
300-task cap, 1 MiB bodies, creates confirmed without ids, no X-Request-Id dedupe.

The user syncs with the shared token, so their projects are named for them
(TODOIST_SHARED_PROJECT_NAME): TODOIST_PROJECT_NAME's "Planner" is "Planner (alice)" there."""

from __future__ import annotations

import math

import pytest

from planner.models import Task
from tests.factories import run_sync
from todoist_sync import selectors, services
from todoist_sync.models import (
    TodoistChatProject,
    TodoistCredential,
    TodoistProject,
    TodoistTaskMap,
)
from todoist_sync.tokens import encrypt_token

pytestmark = pytest.mark.django_db

PLANNER = "Planner (alice)"

NON_ASCII = "Грибы, ёлки и 漢字 — "  # two to three bytes each in UTF-8, six as \\uXXXX


def live(sim) -> list[dict]:
    return [t for t in sim.tasks("alice") if not t.get("is_deleted")]


def project_named(sim, name: str) -> list[dict]:
    return [p for p in sim.projects("alice") if p["name"] == name and not p.get("is_deleted")]


def requests_sent(sim) -> int:
    return sim.stats()["requests_total"]


def test_tasks_go_to_the_planner_project_created_in_the_first_request(user, sim):
    for n in range(5):
        Task.objects.create(user=user, title=f"t{n}")
    first = run_sync(user)
    [planner] = project_named(sim, PLANNER)
    assert first.created == 5 and first.failed == 0
    assert {t["project_id"] for t in live(sim)} == {planner["id"]}
    # One read of the account (where incremental reads start), then one /sync with the
    # project_add and the five item_adds.
    assert first.requests == 2
    assert TodoistProject.objects.get(name=PLANNER).todoist_project_id == planner["id"]
    assert run_sync(user).requests == 0  # an unchanged rerun sends nothing


def test_an_existing_project_of_that_name_is_used_not_duplicated(user, sim):
    made = sim.person_add_project("alice", PLANNER)
    Task.objects.create(user=user, title="t")
    run_sync(user)
    assert len(project_named(sim, PLANNER)) == 1
    assert live(sim)[0]["project_id"] == made["id"]


def test_inbox_means_the_users_inbox(user, sim, settings, sim_token):
    settings.TODOIST_PROJECT_NAME = "Inbox"
    TodoistCredential.objects.create(
        user=user, token_encrypted=encrypt_token(sim_token), token_last4=sim_token[-4:]
    )  # the account is the user's own
    Task.objects.create(user=user, title="t")
    run_sync(user)
    assert live(sim)[0]["project_id"] == sim.inbox_id("alice")
    assert [p["name"] for p in sim.projects("alice")] == ["Inbox"]


def test_on_the_shared_token_inbox_is_a_project_of_the_users_own(user, sim, settings):
    """The shared account's inbox would be every user's: one could fill it for all."""
    settings.TODOIST_PROJECT_NAME = "Inbox"
    Task.objects.create(user=user, title="t")
    run_sync(user)
    [own] = project_named(sim, "Inbox (alice)")
    assert live(sim)[0]["project_id"] == own["id"] != sim.inbox_id("alice")


def test_sixty_long_non_ascii_descriptions_sync_in_one_run(user, sim):
    """16,000 characters each: about 45 KB as UTF-8, 96 KB as \\uXXXX. Before, each batch went
    over 1 MiB, Todoist's 413 read as a configuration error, and nothing synced ever."""
    description = (NON_ASCII * 1000)[:16000]
    for n in range(60):
        Task.objects.create(user=user, title=f"long {n}", description=description)
    result = run_sync(user)
    assert (result.state, result.created, result.failed) == ("succeeded", 60, 0)
    assert len(live(sim)) == 60 and all(t["description"] == description for t in live(sim))
    assert sim.stats()["responses_413"] == 0  # cut by size before sending, not by trial


def test_a_413_sends_the_same_batch_again_in_halves(user, sim):
    sim.configure(max_body_bytes=150_000)  # smaller than what we believe (1,000,000)
    description = (NON_ASCII * 1000)[:16000]
    for n in range(10):
        Task.objects.create(user=user, title=f"long {n}", description=description)
    result = run_sync(user)
    assert (result.state, result.created, result.failed) == ("succeeded", 10, 0)
    assert sim.stats()["responses_413"] >= 1
    assert sorted(t["content"] for t in live(sim)) == sorted(f"long {n}" for n in range(10))


def test_one_command_too_large_alone_is_its_tasks_permanent_error(user, sim, settings):
    settings.TODOIST_MAX_BODY_BYTES = 20_000
    Task.objects.create(user=user, title="big", description="é" * 16000)
    Task.objects.create(user=user, title="small")
    result = run_sync(user)
    assert (result.created, result.failed) == (1, 1)
    big = TodoistTaskMap.objects.get(local_task__title="big")
    assert big.error_permanent and "too large for one Todoist request" in big.last_error
    assert [t["content"] for t in live(sim)] == ["small"]


def test_forty_creates_whose_answers_were_lost_are_found_not_duplicated(user, sim):
    """The replayed item_add is answered "ok" with no temp_id_mapping: each task is found by
    one incremental read and adopted."""
    Task.objects.create(user=user, title="first")
    run_sync(user)  # the account is read once and the project made
    for n in range(40):
        Task.objects.create(user=user, title=f"lost {n}")
    sim.configure(lost_answer_rate=1.0)
    lost = run_sync(user)
    assert lost.created == 0
    sim.configure(lost_answer_rate=0.0)
    healed = run_sync(user, retry_errors=True)
    assert healed.failed == 0
    assert len(live(sim)) == 41  # no duplicate
    mapped = dict(TodoistTaskMap.objects.values_list("local_task__title", "todoist_task_id"))
    by_content = {t["content"]: t["id"] for t in live(sim)}
    assert mapped == by_content
    assert not TodoistTaskMap.objects.exclude(sync_state="synced").exists()


def test_single_task_mode_with_lost_answers_makes_no_duplicate(user, sim, settings):
    """Before: creates relied on X-Request-Id, which API v1 ignores (42 tasks for 30)."""
    settings.TODOIST_USE_BATCH = False
    settings.TODOIST_RETRY_BASE_SECONDS = settings.TODOIST_RETRY_CAP_SECONDS = 0.001
    Task.objects.create(user=user, title="first")
    run_sync(user)
    for n in range(30):
        Task.objects.create(user=user, title=f"single {n}")
    sim.configure(lost_answer_rate=0.3, seed=11)
    for _ in range(30):
        if run_sync(user, retry_errors=True).failed == 0 and not TodoistTaskMap.objects.exclude(
            sync_state="synced"
        ):
            break
        sim.configure(lost_answer_rate=0.3)
    sim.configure(lost_answer_rate=0.0)
    run_sync(user, retry_errors=True)
    contents = [t["content"] for t in live(sim)]
    assert len(contents) == len(set(contents)) == 31


def test_the_project_cap_places_300_and_the_rest_wait_without_errors(user, sim):
    tasks = [Task.objects.create(user=user, title=f"open {n}") for n in range(330)]
    before = requests_sent(sim)
    first = run_sync(user)
    assert (first.created, first.failed) == (300, 0)
    assert sim.stats()["responses_by_status"].get("403", 0) == 0  # known full: not even tried
    assert first.requests <= math.ceil(300 / 100) + 2
    assert requests_sent(sim) - before == first.requests
    waiting = TodoistTaskMap.objects.exclude(waiting_reason="")
    assert waiting.count() == 30
    assert set(waiting.values_list("sync_state", "attempts", "error_permanent")) == {
        ("pending", 0, False)
    }
    [blocked] = selectors.waiting_by_project(user_id=user.pk)
    assert blocked == {
        "project": PLANNER,
        "reason": "Todoist project 'Planner (alice)' is full (300 active tasks)",
        "waiting": 30,
    }
    # Room is made (30 done here): the waiting tasks go out in the same run.
    Task.objects.filter(pk__in=[t.pk for t in tasks[:30]]).update(status="done")
    made_room = run_sync(user)
    assert (made_room.closed, made_room.created, made_room.failed) == (30, 30, 0)
    assert selectors.waiting_by_project(user_id=user.pk) == []
    assert len([t for t in live(sim) if not t["checked"]]) == 300


def test_a_project_filled_by_a_person_costs_one_request_a_run(user, sim):
    planner_tasks = [Task.objects.create(user=user, title=f"mine {n}") for n in range(5)]
    run_sync(user)
    [planner] = project_named(sim, PLANNER)
    for n in range(295):  # a person fills the project in Todoist
        sim.person_add_task("alice", f"theirs {n}", project_id=planner["id"])
    for n in range(3):
        Task.objects.create(user=user, title=f"late {n}")
    full = run_sync(user)
    assert (full.created, full.failed) == (0, 0)
    assert TodoistTaskMap.objects.exclude(waiting_reason="").count() == 3
    assert TodoistProject.objects.get(name=PLANNER).full_since is not None
    again = run_sync(user)  # still full: one create tries, the others wait without a request
    assert again.requests == 1 and again.created == 0
    Task.objects.filter(pk=planner_tasks[0].pk).update(status="done")
    room = run_sync(user)
    assert room.closed == 1 and room.created == 1


def test_two_chats_in_two_projects_and_a_chat_moved(user, sim):
    Task.objects.create(user=user, title="home", chat_id=1)
    Task.objects.create(user=user, title="work", chat_id=2)
    TodoistChatProject.objects.create(user=user, chat_id=2, project_name="Work")
    run_sync(user)
    [planner], [work] = project_named(sim, PLANNER), project_named(sim, "Work (alice)")
    placed = {t["content"]: t["project_id"] for t in live(sim)}
    assert placed == {"home": planner["id"], "work": work["id"]}

    services.chat_project_set(user=user, chat_id=1, project_name="Home")
    moved = run_sync(user, chat_id=1)
    [home] = project_named(sim, "Home (alice)")
    assert moved.failed == 0
    placed = {t["content"]: t["project_id"] for t in live(sim)}
    assert placed == {"home": home["id"], "work": work["id"]}
    assert run_sync(user).requests == 0


def test_a_project_deleted_in_todoist_is_created_again_with_its_tasks(user, sim):
    for n in range(20):
        Task.objects.create(user=user, title=f"t{n}")
    run_sync(user)
    [planner] = project_named(sim, PLANNER)
    sim.person_delete_project("alice", planner["id"])
    Task.objects.filter(title="t0").update(title="t0 renamed")

    result = run_sync(user)
    assert result.failed == 0
    [again] = project_named(sim, PLANNER)
    assert again["id"] != planner["id"]
    assert sorted(t["content"] for t in live(sim) if t["project_id"] == again["id"]) == sorted(
        ["t0 renamed", *(f"t{n}" for n in range(1, 20))]
    )
    assert not TodoistTaskMap.objects.filter(sync_state="error").exists()
    assert run_sync(user).requests == 0
