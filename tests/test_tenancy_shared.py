"""Users of the shared token (TODOIST_API_TOKEN): only those the operator opts in, and a project
of their own each, so no user can fill another's (Todoist caps a project at 300 open tasks).

The test settings opt everyone in (`*`); the tests of the default delete that setting.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.factories import make_task, run_sync, sim_tasks
from todoist_sync import naming, selectors, services
from todoist_sync.conf import conf
from todoist_sync.models import TodoistCredential, TodoistTaskMap
from todoist_sync.tokens import encrypt_token

pytestmark = pytest.mark.django_db


def projects_named(sim, name: str) -> list[dict]:
    return [p for p in sim.projects("alice") if p["name"] == name and not p["is_deleted"]]


def project_of(sim, content: str) -> str:
    [task] = [t for t in sim_tasks(sim) if t["content"] == content]
    return task["project_id"]


def status_of(user) -> dict:
    client = APIClient()
    client.force_authenticate(user)
    answer = client.get("/v1/sync/todoist/status")
    assert answer.status_code == 200
    return answer.json()


# --- who may use it -----------------------------------------------------------------------


def test_by_default_the_shared_token_syncs_nobody(user, sim, settings):
    del settings.TODOIST_SHARED_TOKEN_USERS
    assert conf.TODOIST_SHARED_TOKEN_USERS == []
    make_task(user, "mine")
    run = run_sync(user)
    assert run.state == "failed" and "No Todoist token" in run.error_summary
    assert "TODOIST_SHARED_TOKEN_USERS" in run.error_summary  # what the operator can do
    assert sim_tasks(sim) == []


def test_the_operator_opts_users_in_by_username(user, other_user, sim, settings):
    settings.TODOIST_SHARED_TOKEN_USERS = "bob"
    make_task(user, "alice's")
    make_task(other_user, "bob's")
    assert run_sync(user).state == "failed"
    assert run_sync(other_user).created == 1
    assert [t["content"] for t in sim_tasks(sim)] == ["bob's"]


# --- a project of their own ------------------------------------------------------------------


def test_one_user_filling_their_project_leaves_anothers_syncing(user, other_user, sim):
    """Before: both users' tasks went to one "Planner" project of the shared account. With the
    cap at 10, Alice filled it and Bob's status read `blocked: Todoist project 'Planner' is
    full`; at Todoist's 300 one user does that in about 2.5 minutes."""
    sim.configure(project_task_cap=10)
    for n in range(12):
        make_task(user, f"alice {n}")
    alice = run_sync(user)
    assert (alice.created, alice.failed) == (10, 0)  # two wait for room in her own project
    for n in range(3):
        make_task(other_user, f"bob {n}")
    bob = run_sync(other_user)
    assert (bob.state, bob.created, bob.failed) == ("succeeded", 3, 0)
    assert status_of(other_user)["blocked"] == []
    [alices], [bobs] = projects_named(sim, "Planner (alice)"), projects_named(sim, "Planner (bob)")
    assert {project_of(sim, f"alice {n}") for n in range(10)} == {alices["id"]}
    assert {project_of(sim, f"bob {n}") for n in range(3)} == {bobs["id"]}
    [full] = status_of(user)["blocked"]  # Alice's own project is the full one
    assert (full["project"], full["waiting"]) == ("Planner (alice)", 2)


def test_a_user_on_their_own_token_keeps_the_plain_project_name(user, other_user, sim, sim_token):
    TodoistCredential.objects.create(
        user=user, token_encrypted=encrypt_token(sim_token), token_last4=sim_token[-4:]
    )
    make_task(user, "own token")
    make_task(other_user, "shared token")
    run_sync(user), run_sync(other_user)
    [plain] = projects_named(sim, "Planner")
    [bobs] = projects_named(sim, "Planner (bob)")
    assert project_of(sim, "own token") == plain["id"]
    assert project_of(sim, "shared token") == bobs["id"]


def test_a_chat_cannot_name_another_users_project(user, other_user, sim):
    make_task(user, "alice's")
    run_sync(user)
    [alices] = projects_named(sim, "Planner (alice)")
    services.chat_project_set(user=other_user, chat_id=5, project_name="Planner (alice)")
    make_task(other_user, "bob's", chat_id=5)
    assert run_sync(other_user).created == 1
    [bobs] = projects_named(sim, "Planner (alice) (bob)")
    assert project_of(sim, "bob's") == bobs["id"] != alices["id"]


def test_a_project_another_user_points_at_is_never_adopted_by_name(user, sim):
    """Names are not the guard: Alice is renamed Carol and a new user takes the name "alice".
    The new Alice's "Planner (alice)" is a project of her own, not the one Carol's tasks are in."""
    make_task(user, "first alice's")
    run_sync(user)
    [old] = projects_named(sim, "Planner (alice)")
    user.username = "carol"
    user.save()
    newcomer = get_user_model().objects.create_user(username="alice")
    make_task(newcomer, "new alice's")
    assert run_sync(newcomer).created == 1
    assert project_of(sim, "new alice's") != old["id"]
    assert project_of(sim, "first alice's") == old["id"]
    assert len(projects_named(sim, "Planner (alice)")) == 2
    run_sync(user)  # Carol's tasks move to a project of her name
    [carols] = projects_named(sim, "Planner (carol)")
    assert project_of(sim, "first alice's") == carols["id"]
    assert run_sync(newcomer).requests == 0


def test_after_upgrading_open_tasks_move_into_the_users_own_project(
    user, other_user, sim, monkeypatch
):
    """Users synced into one shared "Planner" before: the next run moves their open tasks into
    projects of their own (a completed task stays where it is), with no task made twice."""
    from todoist_sync.services import engine
    from todoist_sync.services.projects import ProjectDirectory

    with monkeypatch.context() as old_version:  # plain names, and a project taken by name
        old_version.setattr(engine, "project_namer", lambda **kwargs: lambda name: name)
        old_version.setattr(ProjectDirectory, "unclaimed", lambda self, ids: (ids or [None])[0])
        for owner in (user, other_user):
            make_task(owner, f"{owner.username} open")
            make_task(owner, f"{owner.username} done", status="done")
            run_sync(owner)
    [shared] = projects_named(sim, "Planner")
    moved = run_sync(user), run_sync(other_user)
    # (an item_move adds to no counter of the run)
    assert [(run.state, run.failed) for run in moved] == [("succeeded", 0)] * 2
    [alices], [bobs] = projects_named(sim, "Planner (alice)"), projects_named(sim, "Planner (bob)")
    assert project_of(sim, "alice open") == alices["id"]
    assert project_of(sim, "bob open") == bobs["id"]
    assert project_of(sim, "alice done") == project_of(sim, "bob done") == shared["id"]
    assert len(sim_tasks(sim)) == 4
    assert run_sync(user).requests == run_sync(other_user).requests == 0


def test_a_project_a_person_made_with_the_users_name_is_used(user, sim):
    made = sim.person_add_project("alice", "Planner (alice)")
    make_task(user, "t")
    run_sync(user)
    assert project_of(sim, "t") == made["id"]
    assert len(projects_named(sim, "Planner (alice)")) == 1


def test_the_operator_chooses_the_naming(user, sim, settings):
    settings.TODOIST_SHARED_PROJECT_NAME = "{username}: {project} #{user_id}"
    make_task(user, "t")
    run_sync(user)
    [named] = projects_named(sim, f"alice: Planner #{user.pk}")
    assert project_of(sim, "t") == named["id"]


def test_a_malformed_naming_falls_back_to_the_default(user, sim, settings):
    settings.TODOIST_SHARED_PROJECT_NAME = "Everyone's planner"  # todoist_sync.E014
    make_task(user, "t")
    run_sync(user)
    assert projects_named(sim, "Planner (alice)") and not projects_named(sim, "Everyone's planner")


def test_the_dry_run_names_the_projects_as_the_run_does(user, settings):
    make_task(user, "t")
    [decision] = services.sync_plan(user_id=user.pk)
    assert decision.plan.achieved["project"] == "Planner (alice)"
    settings.TODOIST_SHARED_TOKEN_USERS = ""
    TodoistCredential.objects.create(user=user, token_encrypted=encrypt_token("own-token-1234"))
    [decision] = services.sync_plan(user_id=user.pk)
    assert decision.plan.achieved["project"] == "Planner"


def test_a_long_name_is_shortened_to_fit_todoists_120_characters(user, sim):
    long = "x" * 120
    services.chat_project_set(user=user, chat_id=9, project_name=long)
    make_task(user, "t", chat_id=9)
    assert run_sync(user).failed == 0
    [named] = [p for p in sim.projects("alice") if p["name"].endswith(" (alice)")]
    assert len(named["name"]) == naming.MAX_PROJECT_NAME and named["name"].startswith("xxx")
    assert selectors.chat_project(user_id=user.pk, chat_id=9) == long  # what the user chose


@pytest.mark.parametrize(
    ("template", "project", "username", "expected"),
    [
        ("{project} ({username})", "Planner", "alice", "Planner (alice)"),
        ("{project} ({username})", "Inbox", "alice", "Inbox (alice)"),
        ("Planner ({username})", "Work", "bob", "Planner (bob)"),
        ("{project} [{user_id}]", "Work", "bob", "Work [7]"),
        ("{project} ({username})", "p" * 200, "bob", "p" * 114 + " (bob)"),
        ("{project}/{project} {username}", "p" * 200, "bob", "p" * 57 + "/" + "p" * 57 + " bob"),
        ("{project} ({username})", "p" * 200, "u" * 150, "p" * 57 + " (" + "u" * 60 + ")"),
    ],
)
def test_shared_project_name(template, project, username, expected):
    name = naming.shared_project_name(template, project=project, username=username, user_id=7)
    assert name == expected and len(name) <= naming.MAX_PROJECT_NAME


# --- healing on a shared token ---------------------------------------------------------------


def test_healing_never_adopts_another_users_task_on_a_shared_token(user, other_user, sim):
    """Alice's create is applied but its answer lost, and Bob's identical task changed in the
    same account in between: the read that finds Alice's task must not take Bob's."""
    make_task(user, "warm-up")
    run_sync(user)  # Alice's account is read: her later reads start here
    bobs = make_task(other_user, "Buy milk")
    run_sync(other_user)
    alices = make_task(user, "Buy milk")
    sim.lose_next(when=lambda commands: any(c["type"] == "item_add" for c in commands))
    run_sync(user)
    run_sync(user, retry_errors=True)  # the create is replayed without its id: healing
    alices.status = "done"
    alices.save()
    run_sync(user)
    milk = {t["id"]: t for t in sim_tasks(sim) if t["content"] == "Buy milk"}
    assert len(milk) == 2
    mapped = dict(TodoistTaskMap.objects.values_list("local_task_id", "todoist_task_id"))
    bob_id, alice_id = mapped[bobs.pk], mapped[alices.pk]
    assert alice_id != bob_id
    assert milk[bob_id]["checked"] is False  # Bob's task untouched
    assert milk[alice_id]["checked"] is True


def test_healing_never_adopts_another_users_task_in_one_todoist_account(
    user, other_user, sim, settings
):
    """Two users who each connected a token of the same Todoist account share its Inbox: only
    the check on every mapping, whoever's, keeps Alice's healing off Bob's task."""
    settings.TODOIST_PROJECT_NAME = "Inbox"
    for who, token in ((user, "alice-own-token"), (other_user, "bob-own-token")):
        sim.add_token("alice", token)
        TodoistCredential.objects.create(
            user=who, token_encrypted=encrypt_token(token), token_last4=token[-4:]
        )
    make_task(user, "warm-up")
    run_sync(user)  # Alice's account is read: her later reads start here
    bobs = make_task(other_user, "Buy milk")
    run_sync(other_user)
    alices = make_task(user, "Buy milk")
    sim.lose_next(when=lambda commands: any(c["type"] == "item_add" for c in commands))
    run_sync(user)
    run_sync(user, retry_errors=True)  # the create is replayed without its id: healing
    milk = [t for t in sim_tasks(sim) if t["content"] == "Buy milk"]
    assert len({t["project_id"] for t in milk}) == 1  # one project: the case this guards
    mapped = dict(TodoistTaskMap.objects.values_list("local_task_id", "todoist_task_id"))
    assert mapped[alices.pk] != mapped[bobs.pk]
    assert {mapped[alices.pk], mapped[bobs.pk]} == {t["id"] for t in milk}
