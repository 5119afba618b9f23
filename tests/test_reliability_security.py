"""Reliability (issue #6): hostile input through the API end to end, and users kept apart.

Real processes (simulator, runserver, qcluster) on a temporary database of their own: a SQLite
file, or a temporary PostgreSQL database when DATABASE_URL is PostgreSQL (CI runs both).
Nothing talks to Todoist. See RELIABILITY.md for what each test injects and its figures.
"""

from __future__ import annotations

import time

import pytest

from tests.reliability_helpers import (
    admin_session,
    assert_no_secret_anywhere,
    check_invariant,
    failures_without_event,
    isolate_test_process,
    print_figures,
    reliability_stack,
    tracebacks,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _isolated(settings):
    isolate_test_process(settings)


# -- hostile input -------------------------------------------------------------------------------

LONG = 500
# Titles the API must accept; each must land in Todoist exactly as the API stored it.
ACCEPTED_TITLES = [
    "Zażółć gęślą jaźń",
    "日本語のタスクを完了する",
    "emoji 🧪🚀 family 👩\u200d👩\u200d👧\u200d👦 flag 🇺🇦 skin 👍🏽",
    "RTL override \u202eevil.exe\u202c and isolate \u2067שלום\u2069",  # noqa: RUF001
    "Hebrew שלום עולם and Arabic مرحبا بالعالم",
    "marks \u200fRLM\u200e LRM \u061c ALM",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffBOM",
    "combining e\u0301\u0301\u0301 and Zalgo z\u0336\u0335a\u0334",
    "tab\tinside, newline\ninside, CRLF\r\ninside",
    "bell \x07 escape \x1b[31mred\x1b[0m DEL \x7f C1 \x85 \x9b",
    "\u200b",  # a zero-width space alone is not whitespace: a one-character title
    "\x07",  # a control character alone
    "  padded with spaces  ",  # trimmed by the API
    "\u00a0no-break spaces\u3000ideographic space\u00a0",  # Unicode whitespace, trimmed too
    "\x1cfile separator\x1f",  # str.strip() trims these; the API stores the rest
    "<script>alert('x')</script> &amp; <b>bold</b>",
    "'; DROP TABLE planner_task; -- \" OR 1=1",
    "%s %(name)s {0} {{x}} $HOME `id` \\N \\x00 \\u0000",
    "null",
    "x" * LONG,
    "🧪" * LONG,  # 500 characters outside the BMP (1,000 UTF-16 units, 2,000 bytes)
    "é" * LONG,
    "a" + "\u0301" * (LONG - 1),  # one letter with 499 combining accents
    "  " + "y" * LONG + "  ",  # 504 with the spaces; 500 once trimmed
]
ACCEPTED_DESCRIPTIONS = ["", "line 1\nline 2 🚀 \u202e", "d" * 16383]
ODD_DATES = ["0001-01-01", "9999-12-31", "2024-02-29", "2000-02-29", "1970-01-01", None]
# (field -> value) the API must refuse with a 400, never a 500.
REFUSED = [
    {"title": "nul \x00 inside"},
    {"title": "\x00"},
    {"title": "ok", "description": "nul \x00 in the description"},
    {"title": "x" * (LONG + 1)},
    {"title": "🧪" * (LONG + 1)},
    {"title": ""},
    {"title": "   "},
    {"title": "\u3000\u00a0\n\t"},
    {"title": None},
    {"title": 42},
    {"title": ["a"]},
    {"title": {"a": 1}},
    {"title": "ok", "description": "d" * 16384},
    {"title": "ok", "due_date": "2023-02-29"},
    {"title": "ok", "due_date": "0000-01-01"},
    {"title": "ok", "due_date": "10000-01-01"},
    {"title": "ok", "due_date": "2024-13-01"},
    {"title": "ok", "due_date": "2024-02-30"},
    {"title": "ok", "due_date": "yesterday"},
    {"title": "ok", "due_date": "2024-02-29T00:00:00"},
    {"title": "ok", "due_date": 20240229},
    {"title": "ok", "priority": 0},
    {"title": "ok", "priority": 5},
    {"title": "ok", "priority": "1"},
    {"title": "ok", "priority": 1.5},
    {"title": "ok", "priority": True},
    {"title": "ok", "status": "archived"},
    {"title": "ok", "status": "someday"},
    {"title": "ok", "status": ""},
    {"title": "ok", "chat_id": 2**63},
    {"title": "ok", "chat_id": -(2**63) - 1},
    {"title": "ok", "chat_id": "1001"},
]
# Raw bodies: lone surrogates and NUL escapes that json.loads turns into str.
REFUSED_RAW = [
    '{"title": "a\\ud800b"}',
    '{"title": "\\udfff"}',
    '{"title": "ok", "description": "\\ud83d"}',
    '{"title": "nul \\u0000 escaped"}',
    '{"title": "ok", "status": "open\\u0000"}',
    '{"title": "ok", "due_date": "2024-02-29\\u0000"}',
    '{"title": ',
    '["not", "an", "object"]',
    "\x00",
]
# Hostile query strings and paths, and the answers allowed (never a 500).
HOSTILE_GETS = [
    ("/v1/tasks?status=%00", {400}),
    ("/v1/tasks?chat_id=%00", {400}),
    ("/v1/tasks?chat_id=99999999999999999999999", {200, 400}),  # no such chat: empty, or 400
    ("/v1/tasks?archived=%00", {400}),
    ("/v1/tasks?page=%00", {400}),
    ("/v1/tasks?page=99999999999999999999", {404}),
    ("/v1/tasks/%00", {400}),  # a control character in the path: refused before any lookup
    ("/v1/tasks/99999999999999999999999", {404}),
    ("/v1/tasks/-1", {404}),
    ("/v1/sync/todoist/status?job_id=%00", {400}),
    ("/v1/sync/todoist/status?job_id=" + "j" * 65, {400}),
    ("/v1/sync/todoist/status?job_id=%F0%9F%A7%AA", {404}),
]

HOSTILE_ADMIN_GETS = [
    ("/admin/planner/task/?status__exact=%00", {400}),
    ("/admin/todoist_sync/todoisttaskmap/?sync_state__exact=%00", {400}),
    ("/admin/planner/task/?q=%00", {400}),
    ("/admin/planner/eventlog/?q=%F0%9F%A7%AA%E2%80%AE", {200}),
    ("/admin/planner/task/?priority__exact=99999999999999999999", {200, 302}),
    ("/admin/planner/task/%00/change/", {400}),
    ("/admin/knox/authtoken/%00/change/", {400}),
]
# Forged action selections: ids no row can have (400, not Django's ValueError).
HOSTILE_ADMIN_POSTS = [
    ("/admin/planner/task/", {"action": "resync_tasks", "_selected_action": "abc"}),
    (
        "/admin/todoist_sync/todoisttaskmap/",
        {"action": "resync_mappings", "_selected_action": "abc"},
    ),
]


def test_hostile_input_is_refused_or_lands_in_todoist_unchanged(tmp_path, django_db_blocker):
    from planner.models import Task

    started = time.monotonic()
    with reliability_stack(
        tmp_path, django_db_blocker, users={"hostile": True}, workers=1
    ) as stack:
        api = stack.api("hostile")
        account = stack.accounts["hostile"]
        accepted: dict[int, dict] = {}
        bodies = []
        for i, title in enumerate(ACCEPTED_TITLES):
            bodies.append(
                {
                    "title": title,
                    "description": ACCEPTED_DESCRIPTIONS[i % len(ACCEPTED_DESCRIPTIONS)],
                    "due_date": ODD_DATES[i % len(ODD_DATES)],
                    "status": ("open", "blocked", "done")[i % 3],
                    "priority": 1 + i % 4,
                    "chat_id": (-(2**63), 2**63 - 1, 0, None)[i % 4],
                }
            )
        for date in ODD_DATES:
            bodies.append({"title": f"due {date}", "due_date": date})
        for body in bodies:
            answer = api.raw("POST", "/v1/tasks", json=body)
            assert answer.status_code == 201, (body, answer.status_code, answer.text[:300])
            task = answer.json()
            # What the API stored is what was sent, but trimmed.
            assert task["title"] == body["title"].strip()
            assert task["due_date"] == body.get("due_date")
            accepted[task["id"]] = task

        refused = 0
        for body in REFUSED:
            answer = api.raw("POST", "/v1/tasks", json=body)
            assert answer.status_code == 400, (body, answer.status_code, answer.text[:300])
            refused += 1
        for raw in REFUSED_RAW:
            answer = api.raw(
                "POST", "/v1/tasks", data=raw.encode(), headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == 400, (raw, answer.status_code, answer.text[:300])
            refused += 1
        some_id = next(iter(accepted))
        for body in ({"title": "\x00"}, {"description": "\x00"}, {"due_date": "0000-00-00"}):
            answer = api.raw("PATCH", f"/v1/tasks/{some_id}", json=body)
            assert answer.status_code == 400, (body, answer.status_code, answer.text[:300])
            refused += 1
        for path, allowed in HOSTILE_GETS:
            answer = api.raw("GET", path)
            assert answer.status_code in allowed, (path, answer.status_code, answer.text[:300])
            refused += 1
        for body in ({"chat_id": 2**63}, {"chat_id": "\x00"}, {"chat_id": 1.5}):
            answer = api.raw("POST", "/v1/sync/todoist", json=body)
            assert answer.status_code == 400, (body, answer.status_code, answer.text[:300])
            refused += 1
        # The admin too (a superuser's session): a NUL in a filter or a search never reaches
        # the database (PostgreSQL cannot compare text with NUL).
        admin = admin_session(stack)
        for path, allowed in HOSTILE_ADMIN_GETS:
            answer = admin.get(stack.web.url + path, timeout=30, allow_redirects=False)
            stack.answers.append(f"GET {path} -> {answer.status_code}\n{answer.text}")
            assert answer.status_code in allowed, (path, answer.status_code)
            refused += 1
        for path, form in HOSTILE_ADMIN_POSTS:
            form = {**form, "csrfmiddlewaretoken": admin.cookies["csrftoken"]}
            answer = admin.post(stack.web.url + path, data=form, timeout=30, allow_redirects=False)
            stack.answers.append(f"POST {path} -> {answer.status_code}\n{answer.text}")
            assert answer.status_code == 400, (path, answer.status_code, answer.text[:300])
            refused += 1
        with django_db_blocker.unblock():
            stored = Task.objects.using(stack.alias).filter(user_id=account.user_id).count()
        assert stored == len(accepted), "a refused task was stored anyway"

        run = stack.wait_for_run("hostile", api.trigger_sync(), timeout=120)
        assert run["state"] == "succeeded" and run["failed"] == 0, run
        assert run["created"] == len(accepted)
        remote = stack.sim.tasks(account.sim_account)
        with django_db_blocker.unblock():
            verdict = check_invariant(stack.alias, account, remote)
            unlogged = failures_without_event(stack.alias, account.user_id)
        verdict.assert_ok()
        assert not unlogged
        by_content = {t["content"] for t in remote}
        assert {task["title"] for task in accepted.values()} <= by_content
        assert not tracebacks(stack), tracebacks(stack)
        scanned = assert_no_secret_anywhere(stack)
        print_figures(
            "hostile input",
            {
                "accepted_tasks": len(accepted),
                "refused_requests": refused,
                "landed_identical": verdict.eligible - verdict.lost,
                "duplicates": verdict.duplicates,
                "lost": verdict.lost,
                "scan": scanned,
                "seconds": round(time.monotonic() - started, 1),
            },
        )


# -- users kept apart ----------------------------------------------------------------------------


def test_a_user_can_neither_read_trigger_nor_resync_another_users_tasks(
    tmp_path, django_db_blocker
):
    """Alice syncs with the global token, Bob with his own (connected through the API)."""
    from planner.models import Task
    from todoist_sync.models import SyncRun, TodoistCredential, TodoistTaskMap

    started = time.monotonic()
    with reliability_stack(
        tmp_path, django_db_blocker, users={"alice": False, "bob": True}, workers=1
    ) as stack:
        alice, bob = stack.api("alice"), stack.api("bob")
        a, b = stack.accounts["alice"], stack.accounts["bob"]
        alice_ids = [
            alice.request(
                "POST", "/v1/tasks", expect=(201,), json={"title": f"alice {i}", "chat_id": 111}
            )["id"]
            for i in range(5)
        ]
        bob_ids = [
            bob.request(
                "POST", "/v1/tasks", expect=(201,), json={"title": f"bob {i}", "chat_id": 222}
            )["id"]
            for i in range(5)
        ]
        denied = 0
        # Reading, changing, archiving another user's task: 404, and nothing changes.
        listed = {t["id"] for t in alice.tasks()}
        assert listed == set(alice_ids)
        for path, params in (("/v1/tasks", {"chat_id": 222}), ("/v1/tasks", {"archived": "true"})):
            assert alice.request("GET", path, params=params)["results"] == []
            denied += 1
        for task_id in bob_ids:
            for method, body in (("GET", None), ("PATCH", {"title": "mine now"}), ("DELETE", None)):
                answer = alice.raw(method, f"/v1/tasks/{task_id}", json=body)
                assert answer.status_code == 404, (method, answer.status_code)
                denied += 1
        # Bob's token is Bob's: Alice sees none, and her DELETE does not disconnect his.
        assert alice.request("GET", "/v1/sync/todoist/token")["connected"] is False
        alice.request("DELETE", "/v1/sync/todoist/token", expect=(204,))
        assert bob.request("GET", "/v1/sync/todoist/token")["connected"] is True
        denied += 2

        # A trigger scoped to Bob's chat syncs nothing of Bob's, anywhere.
        run = stack.wait_for_run("alice", alice.trigger_sync(chat_id=222))
        assert run["state"] == "succeeded" and run["created"] == 0, run
        assert stack.sim.tasks(b.sim_account) == []
        assert stack.sim.tasks(a.sim_account) == []
        denied += 1

        # Alice's sync: her tasks, to her account only.
        alice_job = alice.trigger_sync()
        run = stack.wait_for_run("alice", alice_job)
        assert run["state"] == "succeeded" and run["created"] == 5, run
        assert stack.sim.tasks(b.sim_account) == []
        # Bob cannot read Alice's run, nor Alice Bob's.
        assert bob.raw("GET", f"/v1/sync/todoist/status?job_id={alice_job}").status_code == 404
        bob_job = bob.trigger_sync()
        assert alice.raw("GET", f"/v1/sync/todoist/status?job_id={bob_job}").status_code == 404
        denied += 2
        run = stack.wait_for_run("bob", bob_job)
        assert run["state"] == "succeeded" and run["created"] == 5, run
        # Each status counts its own mappings only.
        assert alice.sync_status()["counts"] == {"pending": 0, "synced": 5, "error": 0}
        assert bob.sync_status()["counts"] == {"pending": 0, "synced": 5, "error": 0}

        remote_a = stack.sim.tasks(a.sim_account)
        remote_b = stack.sim.tasks(b.sim_account)
        with django_db_blocker.unblock():
            verdicts = [
                check_invariant(stack.alias, a, remote_a, foreign_remote=remote_b),
                check_invariant(stack.alias, b, remote_b, foreign_remote=remote_a),
            ]
            # Bob's tasks are untouched by Alice's attempts, and each run is its user's.
            bob_tasks = Task.objects.using(stack.alias).filter(pk__in=bob_ids)
            assert all(t.user_id == b.user_id and not t.archived for t in bob_tasks)
            assert {t.title for t in bob_tasks} == {f"bob {i}" for i in range(5)}
            for run in SyncRun.objects.using(stack.alias).all():
                maps = TodoistTaskMap.objects.using(stack.alias).filter(user_id=run.user_id)
                assert all(m.local_task.user_id == run.user_id for m in maps)
            assert TodoistCredential.objects.using(stack.alias).get().user_id == b.user_id
            scanned = assert_no_secret_anywhere(stack)
        for verdict in verdicts:
            verdict.assert_ok()
        assert not tracebacks(stack), tracebacks(stack)
        print_figures(
            "security",
            {
                "users": 2,
                "tasks": 10,
                "denied_attempts": denied,
                "cross_user_tasks_in_todoist": 0,
                "scan": scanned,
                "seconds": round(time.monotonic() - started, 1),
            },
        )
