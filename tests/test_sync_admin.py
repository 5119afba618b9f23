"""The operator's admin: changelists, the read-only records, and the re-sync actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import partial
from html import unescape

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.messages import constants as message_level
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from planner.models import EventLog, Task
from tests.factories import make_map, staff_client
from todoist_sync.models import SyncRun, TodoistCredential, TodoistTaskMap
from todoist_sync.tokens import encrypt_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_jobs")]

MAPS = "/admin/todoist_sync/todoisttaskmap/"
RUNS = "/admin/todoist_sync/syncrun/"
TASKS = "/admin/planner/task/"
State = TodoistTaskMap.SyncState


# What the re-sync actions are for: a mapping that gave up.
failed_map = partial(make_map, state=State.ERROR, permanent=True)


def run_action(client: Client, url: str, action: str, pks: list[int]):
    return client.post(
        url, {"action": action, ACTION_CHECKBOX_NAME: [str(pk) for pk in pks]}, follow=True
    )


def messages_of(response) -> list[tuple[int, str]]:
    return [(m.level, m.message) for m in response.context["messages"]]


# --- changelists -------------------------------------------------------------------------


def test_mapping_changelist_links_the_task_and_todoist(admin_client, user):
    mapping = make_map(user, title="Buy milk")
    TodoistTaskMap.objects.filter(pk=mapping.pk).update(todoist_task_id="6X7rM8997g3RQmvh")

    html = admin_client.get(MAPS).content.decode()

    assert f'href="/admin/planner/task/{mapping.local_task_id}/change/">Buy milk</a>' in html
    assert 'href="https://app.todoist.com/app/task/6X7rM8997g3RQmvh"' in html


def test_mapping_changelist_filters_and_search(admin_client, user, other_user):
    failed_map(user, title="permanent one")
    make_map(user, title="retrying one", state=State.ERROR)
    make_map(other_user, title="bobs one")
    synced = make_map(user, title="synced one")
    TodoistTaskMap.objects.filter(pk=synced.pk).update(todoist_task_id="td-42")

    def titles(query: str) -> set[str]:
        response = admin_client.get(MAPS + query)
        assert response.status_code == 200
        return {m.local_task.title for m in response.context["cl"].result_list}

    assert titles("?state=error") == {"permanent one"}
    assert titles("?state=retrying") == {"retrying one"}
    assert titles("?state=synced") == {"synced one", "bobs one"}
    assert titles(f"?user__id__exact={other_user.pk}") == {"bobs one"}
    assert titles("?q=retrying") == {"retrying one"}
    assert titles("?q=td-42") == {"synced one"}


@pytest.mark.parametrize(
    "url", [MAPS, RUNS, TASKS, "/admin/planner/eventlog/", "/admin/todoist_sync/todoistcredential/"]
)
def test_changelists_render_without_n_plus_one(admin_client, user, other_user, url):
    def add_rows(owner, count: int) -> None:
        for n in range(count):
            failed_map(owner, title=f"{owner} {n}")
            SyncRun.objects.create(job_id=f"{owner}-{n}", user=owner, state="succeeded")
            EventLog.objects.create(user=owner, topic="sync.todoist", message=f"event {n}")
            holder = get_user_model().objects.create_user(username=f"{owner}-holder-{n}")
            TodoistCredential.objects.create(
                user=holder, token_encrypted=encrypt_token("t-0000"), token_last4="0000"
            )

    add_rows(user, 2)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    add_rows(other_user, 20)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) > 2
    assert len(many.captured_queries) == len(few.captured_queries)


# --- the sync state, at a glance ---------------------------------------------------------

# Django's boolean icons: a False one is a red mark, read as an error on a healthy row.
BOOLEAN_ICONS = ("icon-yes.svg", "icon-no.svg")
SOON = datetime(2030, 1, 2, 14, 5, tzinfo=UTC)


def state_cells(html: str) -> list[str]:
    """The state column's cells (a changelist's `td`, an inline's readonly `td`)."""
    return re.findall(r'<td class="field-sync_status">(.*?)</td>', html, re.DOTALL)


def text_of(cell: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())


def title_of(cell: str) -> str:
    return unescape(re.search(r'title="([^"]*)"', cell).group(1))


def test_a_healthy_list_shows_synced_and_no_error_mark(admin_client, user):
    for n in range(3):
        make_map(user, title=f"fine {n}", todoist_task_id=f"td-{n}", last_synced_at=SOON)

    html = admin_client.get(MAPS).content.decode()

    cells = state_cells(html)
    assert [text_of(cell) for cell in cells] == ["Synced"] * 3
    assert not [icon for icon in BOOLEAN_ICONS if icon in html]
    assert "error" not in " ".join(cells).lower()


@pytest.mark.parametrize(
    ("fields", "label", "why"),
    [
        ({"state": State.SYNCED, "todoist_task_id": "td-1"}, "Synced", ""),
        (
            {"waiting_reason": "Todoist project 'Planner' is full (300 active tasks)"},
            "Pending",
            "Todoist project 'Planner' is full (300 active tasks)",
        ),
        (
            {"waiting_reason": "Todoist project 'Old' is archived"},
            "Pending",
            "Todoist project 'Old' is archived",
        ),
        ({"inflight": {"commands": [{"type": "item_add"}]}}, "Pending", "create sent, unconfirmed"),
        (
            {"inflight": {"commands": [{"type": "item_update"}]}, "todoist_task_id": "td-2"},
            "Pending",
            "changes sent, unconfirmed",
        ),
        ({}, "Pending", "waiting for the next run"),
        (
            {
                "state": State.ERROR,
                "attempts": 2,
                "next_retry_at": SOON,
                "last_error": "temporary: Todoist answered 503",
            },
            "Retrying",
            "at Jan 2, 14:05: temporary: Todoist answered 503",
        ),
        (
            {"state": State.ERROR, "permanent": True, "last_error": "validation: too long"},
            "Error",
            "validation: too long",
        ),
    ],
    ids=["synced", "full", "archived", "create", "update", "fresh", "retrying", "permanent"],
)
@override_settings(TIME_ZONE="UTC")
def test_the_state_column_says_what_and_why(admin_client, user, fields, label, why):
    make_map(user, **{"state": State.PENDING, **fields})

    (cell,) = state_cells(admin_client.get(MAPS).content.decode())

    assert text_of(cell) == f"{label} {why}".strip()
    assert why in title_of(cell)


def test_the_state_column_escapes_the_reason_and_shortens_it(admin_client, user):
    reason = "validation: <b>bold</b> & " + "x" * 300
    failed_map(user, last_error=reason)

    html = admin_client.get(MAPS).content.decode()

    (cell,) = state_cells(html)
    assert "<b>" not in cell and "&lt;b&gt;bold&lt;/b&gt; &amp;" in cell
    assert len(text_of(cell)) < 100 and text_of(cell).endswith("…")
    assert reason in title_of(cell)  # the whole reason, on hover
    assert "permanent" in title_of(cell).lower()


def test_the_task_inline_shows_the_same_state(admin_client, user):
    mapping = failed_map(user, title="Pay the rent", last_error="validation: content: too long")

    html = admin_client.get(f"{TASKS}{mapping.local_task_id}/change/").content.decode()

    (cell,) = state_cells(html)
    assert text_of(cell) == "Error validation: content: too long"
    assert not [icon for icon in BOOLEAN_ICONS if icon in html]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("synced", {"synced"}),
        ("pending", {"fresh", "unconfirmed"}),
        ("waiting", {"full"}),
        ("retrying", {"retrying"}),
        ("error", {"permanent"}),
    ],
)
def test_the_state_filter(admin_client, user, state, expected):
    make_map(user, title="synced", todoist_task_id="td-1")
    make_map(user, title="fresh", state=State.PENDING)
    make_map(user, title="unconfirmed", state=State.PENDING, inflight={"commands": []})
    make_map(user, title="full", state=State.PENDING, waiting_reason="project full")
    make_map(user, title="retrying", state=State.ERROR)
    failed_map(user, title="permanent")

    response = admin_client.get(f"{MAPS}?state={state}")

    assert {m.local_task.title for m in response.context["cl"].result_list} == expected


# --- read-only records -------------------------------------------------------------------


@pytest.mark.parametrize("changelist", [MAPS, RUNS])
def test_mappings_and_runs_are_read_only(admin_client, user, changelist):
    mapping = failed_map(user)
    run = SyncRun.objects.create(job_id="job-1", user=user)
    pk = mapping.pk if changelist == MAPS else run.pk

    assert admin_client.get(f"{changelist}add/").status_code == 403
    change = admin_client.get(f"{changelist}{pk}/change/")
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert admin_client.post(f"{changelist}{pk}/change/", {}).status_code == 403
    assert admin_client.post(f"{changelist}{pk}/delete/", {"post": "yes"}).status_code == 403
    assert TodoistTaskMap.objects.filter(pk=mapping.pk).exists()
    assert SyncRun.objects.filter(pk=run.pk).exists()


def test_task_page_shows_the_mapping_inline_read_only(admin_client, user):
    mapping = make_map(user, title="Buy milk")
    TodoistTaskMap.objects.filter(pk=mapping.pk).update(todoist_task_id="td-77")

    response = admin_client.get(f"{TASKS}{mapping.local_task_id}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="https://app.todoist.com/app/task/td-77"' in html
    assert "todoist_maps-TOTAL_FORMS" in html
    assert 'name="todoist_maps-0-sync_state"' not in html  # displayed, not editable


# --- the re-sync action on mappings ------------------------------------------------------


def test_resync_mappings_clears_the_errors_and_queues_a_sync(admin_client, user):
    first, second = failed_map(user, title="one"), failed_map(user, title="two")
    untouched = failed_map(user, title="three")

    response = run_action(admin_client, MAPS, "resync_mappings", [first.pk, second.pk])

    assert messages_of(response) == [
        (message_level.SUCCESS, "Re-sync with Todoist queued for 2 Todoist task mappings.")
    ]
    for mapping in (first, second):
        mapping.refresh_from_db()
        assert (mapping.sync_state, mapping.error_permanent, mapping.attempts) == (
            "pending",
            False,
            0,
        )
    untouched.refresh_from_db()
    assert untouched.sync_state == "error"
    run = SyncRun.objects.get()
    assert (run.user, run.trigger) == (user, "admin")
    assert sorted(run.task_ids) == sorted([first.local_task_id, second.local_task_id])


@override_settings(TODOIST_API_TOKEN="")
def test_resync_reports_a_user_without_a_token_as_an_error(admin_client, user, other_user):
    TodoistCredential.objects.create(
        user=other_user, token_encrypted=encrypt_token("bob-token-9999"), token_last4="9999"
    )
    alices, bobs = failed_map(user, title="alice's"), failed_map(other_user, title="bob's")

    response = run_action(admin_client, MAPS, "resync_mappings", [alices.pk, bobs.pk])

    levels = dict(messages_of(response))
    assert levels[message_level.ERROR].startswith("Not re-synced for alice: No Todoist token")
    assert levels[message_level.SUCCESS] == (
        "Re-sync with Todoist queued for 1 Todoist task mapping."
    )
    alices.refresh_from_db()
    bobs.refresh_from_db()
    assert alices.sync_state == "error" and alices.error_permanent  # rolled back
    assert bobs.sync_state == "pending"
    assert list(SyncRun.objects.values_list("user__username", flat=True)) == ["bob"]


def test_staff_without_change_permission_cannot_resync_mappings(user):
    client = staff_client("view_todoisttaskmap")
    mapping = failed_map(user)

    changelist = client.get(MAPS)
    assert changelist.status_code == 200
    assert "resync_mappings" not in changelist.content.decode()
    response = run_action(client, MAPS, "resync_mappings", [mapping.pk])

    assert response.status_code == 200
    mapping.refresh_from_db()
    assert mapping.sync_state == "error" and mapping.error_permanent
    assert not SyncRun.objects.exists()


def test_staff_with_change_permission_can_resync_their_own_mappings(user):
    client = staff_client("view_todoisttaskmap", "change_todoisttaskmap")
    staff = get_user_model().objects.get(username__startswith="staff-")
    mapping = failed_map(staff)
    assert "resync_mappings" in client.get(MAPS).content.decode()

    run_action(client, MAPS, "resync_mappings", [mapping.pk])

    assert SyncRun.objects.get().task_ids == [mapping.local_task_id]


# --- staff who are not superusers see their own rows only ---------------------------------


@pytest.mark.parametrize(
    ("url", "codenames"),
    [
        (MAPS, ["view_todoisttaskmap", "change_todoisttaskmap"]),
        (RUNS, ["view_syncrun"]),
        (TASKS, ["view_task", "change_task"]),
        ("/admin/planner/eventlog/", ["view_eventlog"]),
    ],
)
def test_staff_see_only_their_own_rows(user, url, codenames):
    client = staff_client(*codenames)
    staff = get_user_model().objects.get(username__startswith="staff-")
    mine, theirs = failed_map(staff, title="staff-row"), failed_map(user, title="alice-secret")
    SyncRun.objects.create(job_id="staff-run", user=staff)
    SyncRun.objects.create(job_id="alice-run", user=user)
    EventLog.objects.create(user=staff, topic="t", message="staff-event")
    EventLog.objects.create(user=user, topic="t", message="alice-secret-event")

    page = client.get(url).content.decode()
    assert "alice" not in page
    assert "staff-" in page
    model_url = {MAPS: (mine.pk, theirs.pk), TASKS: (mine.local_task_id, theirs.local_task_id)}
    if url in model_url:
        own, other = model_url[url]
        assert client.get(f"{url}{own}/change/").status_code == 200
        assert client.get(f"{url}{other}/change/").status_code == 302  # "doesn't exist"


def test_staff_cannot_resync_or_change_another_users_rows(user):
    client = staff_client(
        "view_todoisttaskmap", "change_todoisttaskmap", "view_task", "change_task"
    )
    theirs = failed_map(user, title="alice's")
    run_action(client, MAPS, "resync_mappings", [theirs.pk])
    run_action(client, TASKS, "resync_tasks", [theirs.local_task_id])
    response = client.post(
        f"{TASKS}{theirs.local_task_id}/change/",
        {"user": user.pk, "title": "hijacked", "status": "open", "priority": 4},
    )
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.error_permanent and not SyncRun.objects.exists()
    assert Task.objects.get(pk=theirs.local_task_id).title == "alice's"


def test_staff_cannot_create_a_task_for_another_user(user):
    client = staff_client("add_task", "view_task")
    response = client.post(
        "/admin/planner/task/add/",
        {"user": user.pk, "title": "planted", "status": "open", "priority": 4},
    )
    assert response.status_code == 200  # the form again, with an error
    assert "user" in response.context["adminform"].form.errors
    assert not Task.objects.filter(title="planted").exists()


# --- the re-sync action on tasks ---------------------------------------------------------


def test_resync_tasks_queues_mapped_and_unmapped_tasks(admin_client, user, other_user):
    mapped = failed_map(user, title="mapped")
    unmapped = Task.objects.create(user=user, title="new")
    bobs = Task.objects.create(user=other_user, title="bob's")

    response = run_action(
        admin_client, TASKS, "resync_tasks", [mapped.local_task_id, unmapped.pk, bobs.pk]
    )

    assert messages_of(response) == [
        (message_level.SUCCESS, "Re-sync with Todoist queued for 3 tasks.")
    ]
    mapped.refresh_from_db()
    assert mapped.sync_state == "pending" and not mapped.error_permanent
    runs = {run.user.username: sorted(run.task_ids) for run in SyncRun.objects.all()}
    assert runs == {"alice": sorted([mapped.local_task_id, unmapped.pk]), "bob": [bobs.pk]}


def test_staff_without_change_permission_cannot_resync_tasks(user):
    client = staff_client("view_task", "view_todoisttaskmap")
    task = Task.objects.create(user=user, title="t")

    assert "resync_tasks" not in client.get(TASKS).content.decode()
    run_action(client, TASKS, "resync_tasks", [task.pk])

    assert not SyncRun.objects.exists()
