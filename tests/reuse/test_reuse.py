"""todoist_sync in another project: the `todo` app's `Todo`, with its own field names and
values, pushed to the Todoist simulator through the engine's public services."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.reuse.todo.models import Todo, TodoEvent
from todoist_sim import SimConfig, Simulator
from todoist_sync import services
from todoist_sync.models import SyncRun, TodoistTaskMap

pytestmark = pytest.mark.django_db

TOKEN = "sim-token-reuse-4b1d"
INSTALLED_LABELS = {
    *("admin", "auth", "contenttypes", "sessions", "messages"),
    *("rest_framework", "authtoken", "django_q", "todoist_sync", "todo"),
}


@pytest.fixture
def sim(settings):
    with Simulator(SimConfig(seed=1), tokens={"alice": TOKEN}) as simulator:
        settings.TODOIST_API_URL = simulator.url
        settings.TODOIST_API_TOKEN = TOKEN
        settings.TODOIST_USE_BATCH = True
        # Runs are started by the tests, not by saving a to-do.
        settings.TODOIST_SYNC_ON_CHANGE = False
        yield simulator


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user(username="alice", password="pw-alice-123")


def run_sync(user, **kwargs) -> SyncRun:
    kwargs.setdefault("sleep", lambda seconds: None)
    return services.sync_run_execute(user_id=user.pk, **kwargs)


def sim_tasks(sim) -> list[dict]:
    return [t for t in sim.tasks("alice") if not t["is_deleted"]]


def make(owner, name="Todo", **fields) -> Todo:
    return Todo.objects.create(owner=owner, name=name, **fields)


# --- the project ------------------------------------------------------------------------------


def test_the_project_has_its_own_apps_and_the_mapping_points_at_todo():
    labels = {config.label for config in apps.get_app_configs()}
    assert labels == INSTALLED_LABELS
    local_task = TodoistTaskMap._meta.get_field("local_task")
    assert local_task.related_model is Todo


def test_check_passes_and_migrations_are_up_to_date():
    call_command("check", stdout=StringIO())  # raises SystemCheckError on any error
    # Exits 1 (SystemExit) when a model change has no migration, in todo or in todoist_sync.
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())


def test_todoist_sync_migration_depends_on_the_setting_model():
    loader = MigrationLoader(connection)
    assert ("todo", "0001_initial") in loader.applied_migrations
    assert ("todoist_sync", "0001_initial") in loader.applied_migrations
    plan = loader.graph.forwards_plan(("todoist_sync", "0001_initial"))
    assert ("todo", "0001_initial") in plan
    assert {app for app, _ in plan} == {"auth", "contenttypes", "todo", "todoist_sync"}


def test_the_contract_check_reads_the_setting():
    """A model without the fields its contract names fails E010, so the test above can fail."""
    with (
        override_settings(TODOIST_SYNC_TASK_MODEL="todo.TodoEvent"),
        pytest.raises(SystemCheckError, match=r"todoist_sync\.E010"),
    ):
        call_command("check", stdout=StringIO(), stderr=StringIO())


# --- the sync, with the contract's names and values ------------------------------------------


def test_new_todo_is_created_with_its_fields(owner, sim):
    todo = make(
        owner,
        "Buy milk",
        notes="two litres",
        urgency="medium",
        deadline=datetime.date(2026, 12, 24),
    )
    run = run_sync(owner)
    assert (run.state, run.created, run.failed) == ("succeeded", 1, 0)
    [remote] = sim_tasks(sim)
    assert (remote["content"], remote["description"]) == ("Buy milk", "two litres")
    assert remote["priority"] == 3  # medium -> p2 -> Todoist's 3
    assert remote["due"]["date"] == "2026-12-24"
    assert remote["checked"] is False and remote["labels"] == []
    mapping = TodoistTaskMap.objects.get(local_task=todo)
    assert (mapping.todoist_task_id, mapping.sync_state) == (remote["id"], "synced")
    assert mapping.user_id == owner.pk


def test_name_change_updates_the_mapped_task(owner, sim):
    todo = make(owner, "Draft")
    run_sync(owner)
    remote_id = TodoistTaskMap.objects.get(local_task=todo).todoist_task_id
    todo.name = "Final"
    todo.save()
    run = run_sync(owner)
    assert (run.updated, run.created) == (1, 0)
    [remote] = sim_tasks(sim)
    assert (remote["id"], remote["content"]) == (remote_id, "Final")


def test_finished_closes_the_task(owner, sim):
    todo = make(owner, "Ship it")
    run_sync(owner)
    todo.state = Todo.State.FINISHED
    todo.save()
    assert run_sync(owner).closed == 1
    assert sim_tasks(sim)[0]["checked"] is True


def test_back_to_todo_reopens_the_task(owner, sim):
    todo = make(owner, "Ship it again", state=Todo.State.FINISHED)
    run_sync(owner)
    assert sim_tasks(sim)[0]["checked"] is True
    todo.state = Todo.State.TODO
    todo.save()
    assert run_sync(owner).reopened == 1
    assert sim_tasks(sim)[0]["checked"] is False


def test_waiting_adds_the_blocked_label_and_stays_open(owner, sim):
    todo = make(owner, "Waiting on Bob")
    run_sync(owner)
    todo.state = Todo.State.WAITING
    todo.save()
    run_sync(owner)
    [remote] = sim_tasks(sim)
    assert (remote["labels"], remote["checked"]) == (["blocked"], False)
    todo.state = Todo.State.TODO
    todo.save()
    run_sync(owner)
    assert sim_tasks(sim)[0]["labels"] == []


def test_rerun_on_unchanged_todos_sends_nothing(owner, sim):
    for i, state in enumerate(["todo", "waiting", "finished", "todo"]):
        make(owner, f"T{i}", state=state, urgency=["high", "low", "none", "medium"][i])
    first = run_sync(owner)
    assert first.created == 4 and first.requests > 0
    before = sim.stats()["requests_total"]
    run = run_sync(owner)
    assert (run.requests, run.unchanged, run.created, run.updated) == (0, 4, 0, 0)
    assert sim.stats()["requests_total"] == before


def test_unmapped_state_is_skipped_with_a_warning_event(owner, sim):
    someday = make(owner, "Learn the cello", state=Todo.State.SOMEDAY)
    make(owner, "Pay rent")
    run = run_sync(owner)
    assert (run.state, run.skipped, run.created, run.failed) == ("succeeded", 1, 1, 0)
    assert [t["content"] for t in sim_tasks(sim)] == ["Pay rent"]
    assert not TodoistTaskMap.objects.filter(local_task=someday).exists()
    [warning] = TodoEvent.objects.filter(level="warning")
    assert (warning.user_id, warning.topic) == (owner.pk, "sync.todoist")
    assert "status the sync does not know" in warning.message
    assert warning.data["tasks"] == [{"id": someday.pk, "status": "someday"}]
    assert warning.data["job_id"] == run.job_id


@pytest.mark.parametrize(
    ("urgency", "api_priority"), [("high", 4), ("medium", 3), ("low", 2), ("none", 1)]
)
def test_urgency_maps_to_todoist_priority(owner, sim, urgency, api_priority):
    make(owner, f"Urgency {urgency}", urgency=urgency)
    run_sync(owner)
    assert sim_tasks(sim)[0]["priority"] == api_priority


# --- the API and the admin, with the other model ----------------------------------------------


def test_api_trigger_runs_the_sync_and_status_names_the_todo(
    owner, sim, django_capture_on_commit_callbacks
):
    make(owner, "Through the API", urgency="high")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("todoist-sync"), {}, format="json")
    assert response.status_code == 202, response.content
    run = SyncRun.objects.get(job_id=response.json()["job_id"])
    assert (run.state, run.created) == ("succeeded", 1)
    status = client.get(reverse("todoist-sync-status")).json()
    assert status["counts"]["synced"] == 1
    assert status["last_run"]["job_id"] == run.job_id


@override_settings(TODOIST_API_TOKEN="")
def test_the_apps_error_handler_gives_the_host_its_codes(owner):
    # The reuse project names todoist_sync's handler in REST_FRAMEWORK: no planner involved.
    client = APIClient()
    assert client.get(reverse("todoist-sync-status")).json()["code"] == "not_authenticated"
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    response = client.post(reverse("todoist-sync"), {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "no_token"
    response = client.post(reverse("todoist-sync"), {"chat_id": "x"}, format="json")
    assert response.json()["code"] == "invalid" and set(response.json()["fields"]) == {"chat_id"}


@pytest.fixture
def admin_client_of(owner, client):
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    return client


def test_admin_todo_page_shows_the_mapping_inline(owner, sim, admin_client_of):
    todo = make(owner, "In the admin")
    run_sync(owner)
    remote_id = TodoistTaskMap.objects.get(local_task=todo).todoist_task_id
    response = admin_client_of.get(reverse("admin:todo_todo_change", args=[todo.pk]))
    assert response.status_code == 200
    assert f"https://app.todoist.com/app/task/{remote_id}" in response.content.decode()


def test_admin_resync_action_queues_a_run_of_the_selected_todos(owner, sim, admin_client_of):
    todo = make(owner, "Again")
    response = admin_client_of.post(
        reverse("admin:todo_todo_changelist"),
        {"action": "resync_tasks", "_selected_action": [todo.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Re-sync with Todoist queued for 1 to-do." in response.content.decode()
    run = SyncRun.objects.get(trigger="admin")
    assert (run.user_id, run.task_ids) == (owner.pk, [todo.pk])


@pytest.fixture
def mapped(owner, sim):
    findable = make(owner, "Findable")
    make(owner, "Other")
    run_sync(owner)
    return findable


def test_admin_mapping_list_links_each_todo_by_its_name(mapped, admin_client_of):
    response = admin_client_of.get(reverse("admin:todoist_sync_todoisttaskmap_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2
    page = response.content.decode()
    assert reverse("admin:todo_todo_change", args=[mapped.pk]) in page
    assert ">Findable</a>" in page


def test_admin_mapping_search_finds_the_todo_by_name(mapped, admin_client_of):
    url = reverse("admin:todoist_sync_todoisttaskmap_changelist")
    response = admin_client_of.get(url, {"q": "Findable"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_admin_mapping_list_sorts_by_the_todo_name(mapped, admin_client_of):
    url = reverse("admin:todoist_sync_todoisttaskmap_changelist")
    response = admin_client_of.get(url, {"o": "1"})
    assert response.status_code == 200
    titles = [m.task_title for m in response.context["cl"].result_list]
    assert titles == ["Findable", "Other"]


# --- the command line ---------------------------------------------------------------------------


def test_sync_todoist_command_syncs_every_owner(owner, sim):
    make(owner, "From the command line", urgency="low")
    out = StringIO()
    call_command("sync_todoist", "--all", stdout=out)
    run = SyncRun.objects.get(trigger="command")
    assert (run.user_id, run.state, run.created) == (owner.pk, "succeeded", 1)
    [remote] = sim_tasks(sim)
    assert (remote["content"], remote["priority"]) == ("From the command line", 2)
