"""Helpers of the reliability suite (issue #6): a stack with several users and workers, the
end-to-end invariant, and the secret scan.

Built on `tests/e2e_helpers.py` and the process harness `scripts/harness` (which starts, kills
and stops the processes and controls the simulator). What this adds:

- `reliability_stack(...)`: like `e2e_stack`, but with several users (each on the global
  Todoist token or on a token of their own, connected through `PUT /v1/sync/todoist/token`), any
  number of qcluster workers with their own log files (a restarted worker never overwrites the
  log of the one it replaces), and per user an API client that records every answer it got
  (`RecordingApi`), for the secret scan.
- `check_invariant(...)`: the promise of the issue, checked precisely for one user against the
  simulator's state (see its docstring); `Verdict.assert_ok()` fails with every problem listed.
- `failures_without_event(...)`: runs whose failures are not all in the `EventLog`.
- `secret_leaks(...)`: where a token appears in log files, database rows, API answers or pages.

The simulator's tokens go to it through the environment only (never argv), and its accounts are
named `user-<last 4 characters>`: the tokens here keep their last four characters distinct, so
each user's account name says whose it is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from scripts.harness import Proc, RecordingApi
from tests.e2e_helpers import LocalStack, migrated_stack, orm_alias

# `make soak` sets SOAK_SIZE=large; `make test` (and so CI) runs the same tests at their small
# size.
LARGE = os.environ.get("SOAK_SIZE", "").strip().lower() == "large"
ELIGIBLE = ("open", "blocked", "done")
BLOCKED_LABEL = "blocked"
# The encryption key of per-user tokens in the stack (the API refuses tokens without one).
STACK_ENCRYPTION_KEY = "reliability-stack-key-" + secrets.token_hex(8)


def sized(small: int, large: int) -> int:
    """A test's size: `small` in `make test` (and CI), `large` under `SOAK_SIZE=large`
    (`make soak`)."""
    return large if LARGE else small


def new_token(prefix: str, used: Iterable[str] = ()) -> str:
    """A simulator token whose last four characters differ from the `used` ones."""
    taken = {t[-4:] for t in used}
    while True:
        token = f"{prefix}-{secrets.token_hex(12)}"
        if token[-4:] not in taken:
            return token


# --------------------------------------------------------------------------------------------
# The stack


@dataclass
class Account:
    """A planner user of the stack and the Todoist token its tasks go out with."""

    username: str
    user_id: int
    api_token: str
    todoist_token: str
    own_token: bool  # connected through the API (else: the global TODOIST_API_TOKEN)
    sim_account: str  # the simulator's name of the account of `todoist_token`
    api: RecordingApi | None = None


@dataclass
class RStack(LocalStack):
    workers: list[Proc]
    alias: str
    global_token: str
    accounts: dict[str, Account]
    answers: list[str]
    superuser: tuple[str, str]

    def api(self, username: str) -> RecordingApi:
        api = self.accounts[username].api
        assert api is not None
        return api

    def secrets(self) -> dict[str, str]:
        """Every Todoist token of the stack, by a name that says whose it is."""
        found = {"global TODOIST_API_TOKEN": self.global_token}
        for account in self.accounts.values():
            if account.own_token:
                found[f"own token of {account.username}"] = account.todoist_token
        return found

    def start_worker(self, *, env: dict[str, str] | None = None, wait: bool = True) -> Proc:
        """A `manage.py qcluster` with a log file of its own, `qcluster-<n>.log`."""
        proc = self.stack.start_qcluster(name=f"qcluster-{len(self.workers) + 1}", env=env)
        self.workers.append(proc)
        if wait:
            self.stack.wait_ready([proc], timeout=60)
        return proc

    def wait_for_run(self, username: str, job_id: str, *, timeout: float = 120.0) -> dict:
        """Poll the run of `username` until it finished (succeeded, failed or deferred)."""
        return self.api(username).wait_for_run(
            job_id, timeout=timeout, interval=0.1, stack=self.stack
        )


@contextlib.contextmanager
def reliability_stack(
    tmp_path: Path,
    django_db_blocker: Any,
    *,
    users: dict[str, bool],
    workers: int = 1,
    latency_ms: float = 0,
    extra_env: dict[str, str] | None = None,
    worker_env: dict[str, str] | None = None,
) -> Iterator[RStack]:
    """A migrated temporary database, the simulator, the web process and `workers` qclusters.

    `users` maps a username to whether it connects a Todoist token of its own (through the API,
    checked against the simulator) instead of using the global one. Users get no tasks: the
    test seeds them through `stack.alias` (ORM, bulk_create: no signals) or the API.
    The test process's ORM alias to the stack's database stays open for the whole block.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from knox.models import AuthToken

    global_token = new_token("global")
    own_tokens: dict[str, str] = {}
    for username, own in users.items():
        if own:
            own_tokens[username] = new_token("own", [global_token, *own_tokens.values()])
    env_extra = {
        "TODOIST_TOKEN_ENCRYPTION_KEY": STACK_ENCRYPTION_KEY,
        "LOG_LEVEL": "INFO",
        **(extra_env or {}),
    }
    answers: list[str] = []
    with contextlib.ExitStack() as exits:
        local = exits.enter_context(
            migrated_stack(
                tmp_path,
                todoist_token=global_token,
                # The users without a token of their own are opted in to the global one.
                shared_token_users=",".join(u for u in users if u not in own_tokens),
                sim_tokens=own_tokens.values(),
                latency_ms=latency_ms,
                extra_env=env_extra,
            )
        )
        exits.enter_context(django_db_blocker.unblock())
        alias = exits.enter_context(orm_alias(local.database_url, alias="reliability"))
        user_model = get_user_model()
        accounts: dict[str, Account] = {}
        for username in users:
            user = user_model.objects.db_manager(alias).create_user(username=username)
            _, key = AuthToken.objects.db_manager(alias).create(user=user)
            todoist_token = own_tokens.get(username, global_token)
            accounts[username] = Account(
                username=username,
                user_id=user.pk,
                api_token=key,
                todoist_token=todoist_token,
                own_token=username in own_tokens,
                sim_account=local.sim.account(todoist_token),
            )
        superuser = ("reliability-admin", "admin-" + secrets.token_hex(12))
        admin_user = user_model.objects.db_manager(alias).create_superuser(
            username=superuser[0], email="admin@example.invalid", password=None
        )
        # The web process runs the real settings (PBKDF2), not the test suite's MD5 hasher.
        hasher = PBKDF2PasswordHasher()
        admin_user.password = hasher.encode(superuser[1], hasher.salt(), iterations=1000)
        admin_user.save(using=alias, update_fields=["password"])

        rstack = RStack(
            **local.parts(),
            workers=[],
            alias=alias,
            global_token=global_token,
            accounts=accounts,
            answers=answers,
            superuser=superuser,
        )
        for account in accounts.values():
            account.api = RecordingApi(local.web.url, account.api_token, answers)
            if account.own_token:
                connected = account.api.connect_token(account.todoist_token)
                assert connected["connected"] and connected["last4"] == account.todoist_token[-4:]
        for _ in range(workers):
            rstack.start_worker(env=worker_env, wait=False)
        local.stack.wait_ready(rstack.workers, timeout=90)
        # The stack stops the workers first on exit: no job is half-way when the simulator goes.
        yield rstack


# --------------------------------------------------------------------------------------------
# The invariant


@dataclass
class Verdict:
    """The end state of one user against their simulator account."""

    username: str
    local_tasks: int = 0
    eligible: int = 0
    mapped: int = 0
    remote_live: int = 0  # non-deleted simulator tasks of the account
    duplicates: int = 0  # live simulator tasks no mapping points to (a second create)
    lost: int = 0  # eligible tasks without exactly one correct simulator task
    not_synced: int = 0
    problems: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, int]:
        data = dataclasses.asdict(self)
        data.pop("problems")
        data.pop("username")
        return data

    def assert_ok(self) -> None:
        shown = "\n  ".join(self.problems[:40])
        more = f"\n  ... and {len(self.problems) - 40} more" if len(self.problems) > 40 else ""
        assert not self.problems, (
            f"invariant broken for {self.username}: {len(self.problems)} problem(s) "
            f"{self.figures()}\n  {shown}{more}"
        )


def check_invariant(
    alias: str,
    account: Account,
    remote: list[dict[str, Any]],
    *,
    require_synced: bool = True,
    foreign_remote: Iterable[dict[str, Any]] = (),
) -> Verdict:
    """The issue's promise for one user, precisely.

    Eligible local task: status open/blocked/done and not archived, or archived with a mapping
    (an archived task that Todoist has is closed there). For each one: exactly one mapping with
    a Todoist id, and a live simulator task with that id whose content == title.strip(),
    description equal, priority == 5 - priority, due date equal (or both none), checked ==
    (status done or archived), and, while open, the blocked label exactly when blocked. No
    live simulator task without a mapping; no two mappings with one Todoist id; no mapping of
    an ineligible task; every mapping in `error` has its EventLog row; with `require_synced`
    (after quiet) every mapping `synced`. `foreign_remote`: tasks of other users' accounts, which
    must not hold any of this user's titles (nothing of this user went elsewhere).
    """
    from planner.models import EventLog, Task
    from todoist_sync.models import TodoistTaskMap

    verdict = Verdict(account.username)
    problems = verdict.problems
    tasks = list(Task.objects.using(alias).filter(user_id=account.user_id).order_by("id"))
    maps = list(TodoistTaskMap.objects.using(alias).filter(user_id=account.user_id))
    by_task = {m.local_task_id: m for m in maps}
    live = {t["id"]: t for t in remote if not t["is_deleted"]}
    verdict.local_tasks, verdict.mapped, verdict.remote_live = len(tasks), len(maps), len(live)

    ids = Counter(m.todoist_task_id for m in maps if m.todoist_task_id)
    for todoist_id, count in ids.items():
        if count > 1:
            problems.append(f"Todoist id {todoist_id} is mapped {count} times")
    orphans = sorted(set(live) - set(ids))
    verdict.duplicates = len(orphans)
    for todoist_id in orphans[:20]:
        problems.append(
            f"simulator task {todoist_id} {live[todoist_id]['content']!r} has no mapping"
        )
    if len(orphans) > 20:
        problems.append(f"... {len(orphans) - 20} more simulator tasks without a mapping")

    logged = {
        (e.data or {}).get("local_task_id")
        for e in EventLog.objects.using(alias).filter(
            user_id=account.user_id, level="error", topic="sync.todoist"
        )
    }
    for mapping in maps:
        if mapping.sync_state == "error" and mapping.local_task_id not in logged:
            problems.append(f"task {mapping.local_task_id}: in error without an EventLog row")
        if require_synced and mapping.sync_state != "synced":
            verdict.not_synced += 1
            problems.append(
                f"task {mapping.local_task_id}: {mapping.sync_state} after quiet "
                f"({mapping.last_error[:120]!r})"
            )

    for task in tasks:
        mapping = by_task.get(task.id)
        eligible = task.status in ELIGIBLE and (not task.archived or mapping is not None)
        if not eligible:
            if mapping is not None:
                problems.append(f"task {task.id} ({task.status}) is not eligible but mapped")
            continue
        verdict.eligible += 1
        wrong = _task_problems(task, mapping, live)
        if wrong:
            verdict.lost += 1
            problems.extend(f"task {task.id}: {p}" for p in wrong)

    titles = {t.title.strip() for t in tasks}
    for remote_task in foreign_remote:
        if not remote_task["is_deleted"] and remote_task["content"] in titles:
            problems.append(
                f"{remote_task['content']!r} of {account.username} is in another account"
            )
    return verdict


def _task_problems(task: Any, mapping: Any, live: dict[str, dict[str, Any]]) -> list[str]:
    if mapping is None:
        return ["no mapping"]
    if not mapping.todoist_task_id:
        return [f"mapping without a Todoist id ({mapping.sync_state}: {mapping.last_error[:80]!r})"]
    remote = live.get(mapping.todoist_task_id)
    if remote is None:
        return [f"Todoist task {mapping.todoist_task_id} missing or deleted in the simulator"]
    wrong = []
    expect = {
        "content": task.title.strip(),
        "description": task.description,
        "priority": 5 - task.priority,
        "due": task.due_date.isoformat() if task.due_date else None,
        "checked": task.status == "done" or task.archived,
    }
    got = {
        "content": remote["content"],
        "description": remote["description"],
        "priority": remote["priority"],
        "due": (remote["due"] or {}).get("date"),
        "checked": remote["checked"],
    }
    for name, value in expect.items():
        if got[name] != value:
            wrong.append(f"{name} is {_short(got[name])} in Todoist, expected {_short(value)}")
    if not expect["checked"]:
        has_label = BLOCKED_LABEL in (remote["labels"] or [])
        if has_label != (task.status == "blocked"):
            wrong.append(f"blocked label {'present' if has_label else 'missing'} ({task.status})")
    return wrong


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def failures_without_event(alias: str, user_id: int) -> list[str]:
    """Every failure a run counted has its EventLog row: for each run that finished by itself,
    `failed` == its error rows naming a task. Runs a dead worker left (marked failed by the next
    lease holder) never saved their counts and are skipped."""
    from planner.models import EventLog
    from todoist_sync.models import SyncRun

    per_job = Counter(
        (e.data or {}).get("job_id")
        for e in EventLog.objects.using(alias).filter(
            user_id=user_id, level="error", topic="sync.todoist", message__startswith="Task "
        )
    )
    problems = []
    for run in SyncRun.objects.using(alias).filter(user_id=user_id):
        if run.state in ("queued", "running") or run.error_summary.startswith("the worker stopped"):
            continue
        if per_job[run.job_id] != run.failed:
            problems.append(
                f"run {run.job_id} ({run.state}) counted {run.failed} failures but has "
                f"{per_job[run.job_id]} EventLog rows for them"
            )
    return problems


def rate_limit_events(alias: str) -> int:
    from planner.models import EventLog

    return (
        EventLog.objects.using(alias)
        .filter(level="warning", message__startswith="Todoist rate limit")
        .count()
    )


def is_quiet(alias: str, user_id: int, job_id: str) -> tuple[bool, float]:
    """Whether the finished run `job_id` found nothing to do: it succeeded with no request and
    every eligible task of the user has a synced mapping. Answers it and the seconds until the
    earliest retry that is still waiting (0 when none)."""
    from django.db.models import Exists, OuterRef, Q
    from django.utils import timezone

    from planner.models import Task
    from todoist_sync.models import SyncRun, TodoistTaskMap

    run = SyncRun.objects.using(alias).get(job_id=job_id)
    maps = TodoistTaskMap.objects.using(alias).filter(user_id=user_id)
    waiting = maps.filter(next_retry_at__isnull=False).order_by("next_retry_at").first()
    wait = 0.0
    if waiting is not None:
        wait = max(0.0, (waiting.next_retry_at - timezone.now()).total_seconds())
    unmapped = (
        Task.objects.using(alias)
        .filter(user_id=user_id, status__in=ELIGIBLE, archived=False)
        .filter(~Exists(TodoistTaskMap.objects.filter(local_task=OuterRef("pk"))))
        .exists()
    )
    quiet = (
        run.state == "succeeded"
        and run.requests == 0
        and not unmapped
        and not maps.filter(~Q(sync_state="synced")).exists()
    )
    return quiet, wait


def drive_until_quiet(
    rstack: RStack,
    username: str,
    *,
    timeout: float,
) -> dict[str, Any]:
    """Trigger syncs through the API (as the periodic safety net would) until a run finds
    nothing to do. Answers figures: runs triggered, seconds, states seen."""
    account = rstack.accounts[username]
    started = time.monotonic()
    states: Counter[str] = Counter()
    runs = 0
    while True:
        job_id = rstack.api(username).trigger_sync()
        run = rstack.wait_for_run(username, job_id, timeout=max(60.0, timeout))
        runs += 1
        states[run["state"]] += 1
        quiet, wait = is_quiet(rstack.alias, account.user_id, job_id)
        if quiet:
            return {"runs": runs, "seconds": time.monotonic() - started, "states": dict(states)}
        if time.monotonic() - started > timeout:
            raise AssertionError(
                f"{username} not quiet after {timeout:.0f} s and {runs} runs; last run {run}"
            )
        time.sleep(min(max(wait, 0.1), 2.0))


# --------------------------------------------------------------------------------------------
# Secrets


def database_texts(alias: str) -> dict[str, str]:
    """Every row of every table as text: raw SQL (all columns, whatever the model), plus the
    ORM's view of django-q2's pickled and signed columns, decoded."""
    from django.apps import apps
    from django.db import connections

    connection = connections[alias]
    texts: dict[str, str] = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            texts[f"table {table}"] = "\n".join(repr(row) for row in cursor.fetchall())
    for model in apps.get_app_config("django_q").get_models():
        rows = []
        for obj in model.objects.using(alias).all():
            values = {f.name: getattr(obj, f.attname, None) for f in model._meta.concrete_fields}
            payload = values.get("payload")
            if isinstance(payload, str) and model.__name__ == "OrmQ":
                from django_q.signing import SignedPackage

                with contextlib.suppress(Exception):
                    values["payload"] = SignedPackage.loads(payload)
            rows.append(repr(values))
        texts[f"django_q {model.__name__} (decoded)"] = "\n".join(rows)
    return texts


def admin_session(rstack: RStack) -> requests.Session:
    """A session of the stack's superuser, logged in through the admin's login form."""
    session = requests.Session()
    base = rstack.web.url
    login = session.get(f"{base}/admin/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
    assert csrf, login.text[:500]
    answer = session.post(
        f"{base}/admin/login/?next=/admin/",
        data={
            "username": rstack.superuser[0],
            "password": rstack.superuser[1],
            "csrfmiddlewaretoken": csrf.group(1),
        },
        timeout=10,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    return session


def admin_pages(rstack: RStack, *, per_model: int = 3) -> dict[str, str]:
    """Every admin changelist, and the change pages of a few rows of each, rendered by the stack's
    web process for a superuser (who sees every user's rows)."""
    from django.contrib import admin
    from django.urls import reverse

    session = admin_session(rstack)
    base = rstack.web.url
    pages: dict[str, str] = {}
    urls = ["/admin/"]
    for model in admin.site._registry:
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        pks = model.objects.using(rstack.alias).order_by("-pk").values_list("pk", flat=True)
        for pk in list(pks[:per_model]):
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk]))
    for url in urls:
        page = session.get(base + url, timeout=30)
        assert page.status_code == 200, f"admin {url} answered {page.status_code}"
        pages[f"admin {url}"] = page.text
    return pages


def secret_leaks(secrets_by_name: dict[str, str], texts: dict[str, str]) -> list[str]:
    """'<secret name> in <where>' for every text that contains a secret."""
    leaks = []
    for where, text in texts.items():
        for name, secret in secrets_by_name.items():
            if secret and secret in text:
                leaks.append(f"{name} in {where}")
    return leaks


def assert_no_secret_anywhere(rstack: RStack, *, admin: bool = True) -> dict[str, int]:
    """The stack's Todoist tokens are in no log file, database row, API answer or admin page.
    Answers how much was scanned."""
    texts: dict[str, str] = {}
    texts.update({f"log {name}": text for name, text in rstack.stack.log_texts().items()})
    texts.update(database_texts(rstack.alias))
    texts.update({f"API answer #{i}": text for i, text in enumerate(rstack.answers)})
    if admin:
        texts.update(admin_pages(rstack))
    leaks = secret_leaks(rstack.secrets(), texts)
    assert not leaks, "Todoist token leaked: " + "; ".join(leaks[:20])
    # The scan must have had something to look at: the logs of what ran the engine.
    assert any(k.startswith(("log qcluster", "log sync-")) and v for k, v in texts.items())
    return {
        "texts": len(texts),
        "characters": sum(len(v) for v in texts.values()),
        "api_answers": len(rstack.answers),
        "admin_pages": sum(k.startswith("admin ") for k in texts),
    }


def tracebacks(rstack: RStack) -> list[str]:
    """Log files of the stack that show a Python traceback or a 500 answer."""
    found = []
    for name, text in rstack.stack.log_texts().items():
        if "Traceback (most recent call last)" in text or '" 500 ' in text:
            found.append(name)
    return found


def print_figures(title: str, figures: dict[str, Any]) -> None:
    """One JSON line per test, for RELIABILITY.md (`pytest -s` or the captured output)."""
    print(f"\nRELIABILITY {title}: " + json.dumps(figures, default=str, sort_keys=True))


def today() -> datetime.date:
    return datetime.date.today()


def isolate_test_process(settings: Any) -> None:
    """The test process seeds and edits the stack's database through the ORM: make sure no
    signal there queues a sync (inline, in test settings) or reaches any Todoist URL."""
    settings.TODOIST_SYNC_ON_CHANGE = False
    settings.TODOIST_API_URL = "http://127.0.0.1:9/api/v1"


def lease_problems(alias: str, user_id: int, job_ids: Iterable[str] | None = None) -> list[str]:
    """The lease as the SyncRun rows show it: a run that got the lease has
    `lease_holder == job_id`; one that did not is `deferred` with no request and no change.
    Runs of a killed worker (marked failed by the next lease holder) are left out."""
    from todoist_sync.models import SyncRun

    runs = SyncRun.objects.using(alias).filter(user_id=user_id)
    if job_ids is not None:
        runs = runs.filter(job_id__in=list(job_ids))
    problems = []
    for run in runs:
        if run.error_summary.startswith("the worker stopped"):
            continue  # its worker was killed; the next lease holder marked it failed
        if run.trigger == "follow-up" and run.state == "queued" and job_ids is None:
            continue  # asked for by runs that found the lease held; no worker in this test
        if run.state in ("queued", "running"):
            problems.append(f"run {run.job_id} still {run.state}")
        elif run.lease_holder:
            if run.lease_holder != run.job_id:
                problems.append(f"run {run.job_id} shows lease holder {run.lease_holder}")
        elif run.state != "deferred" or run.requests or run.created or run.updated:
            problems.append(
                f"run {run.job_id} without the lease is {run.state} with {run.requests} "
                f"requests and {run.created} creates (expected deferred, 0)"
            )
    return problems


def seed_tasks(alias: str, user_id: int, specs: list[dict[str, Any]]) -> list[int]:
    """bulk_create (no signals, so no sync on change) the tasks `specs`; answers their ids.
    When they span several chats, each chat gets its own Todoist project, as a bot would set
    it: Todoist takes at most 300 open tasks in one project."""
    from planner.models import Task
    from todoist_sync.models import TodoistChatProject

    Task.objects.using(alias).bulk_create(
        [Task(user_id=user_id, **spec) for spec in specs], batch_size=500
    )
    chats = sorted({spec["chat_id"] for spec in specs if spec.get("chat_id") is not None})
    if len(chats) > 1:
        TodoistChatProject.objects.using(alias).bulk_create(
            [
                TodoistChatProject(user_id=user_id, chat_id=c, project_name=f"Chat {c}")
                for c in chats
            ]
        )
    return list(
        Task.objects.using(alias)
        .filter(user_id=user_id)
        .order_by("id")
        .values_list("id", flat=True)
    )


# Tasks a chat gets: about 150 of them open, well under Todoist's 300 per project.
TASKS_PER_CHAT = 200


def mixed_tasks(count: int, *, prefix: str, chat_id: int = 1001) -> list[dict[str, Any]]:
    """`count` tasks in every status: open, blocked, done, about 2% in a status the sync does
    not know, and about 2% archived before any sync; padded titles, odd due dates. Every
    TASKS_PER_CHAT tasks go to the next chat (chat_id, chat_id + 1, ...)."""
    odd_dates = [datetime.date(2024, 2, 29), datetime.date(1, 1, 1), datetime.date(9999, 12, 31)]
    specs = []
    for i in range(count):
        status = ("open", "open", "blocked", "done")[i % 4]
        if i % 50 == 7:
            status = "someday"  # unknown to the sync: skipped with a warning
        due = None
        if i % 2 == 0:
            due = today() + datetime.timedelta(days=i % 30)
        elif i % 25 == 1:
            due = odd_dates[i % 3]
        title = f"{prefix} {i}" + (" ✓ zażółć 🚀" if i % 5 == 0 else "")
        if i % 10 == 0:
            title = f"  {title}\t "  # trimmed when pushed
        specs.append(
            {
                "chat_id": chat_id + i // TASKS_PER_CHAT,
                "title": title,
                "description": f"seeded {i}\nline two" if i % 3 == 0 else "",
                "status": status,
                "priority": 1 + i % 4,
                "due_date": due,
                "archived": i % 50 == 13,  # archived before any sync: never pushed
            }
        )
    return specs


class Editor:
    """Random edits of a user's tasks through the API, as the bot makes them: titles, priorities,
    due dates, complete, reopen, block, unblock, archive (DELETE) and new tasks."""

    WEIGHTS = {
        "title": 18,
        "priority": 10,
        "due": 10,
        "complete": 16,
        "reopen": 14,
        "block": 10,
        "unblock": 8,
        "archive": 4,
        "create": 10,
    }

    def __init__(
        self,
        api: RecordingApi,
        tasks: dict[int, str],
        rng: Any,
        *,
        chat_id: int = 1001,
        chats: int = 1,
    ):
        self.api = api
        self.status = dict(tasks)  # live (not archived) task id -> status, as the API last said
        self.rng = rng
        self.chat_ids = [chat_id + n for n in range(chats)]
        self.done: Counter[str] = Counter()
        self._n = 0

    def step(self) -> str:
        self._n += 1
        kinds, weights = zip(*self.WEIGHTS.items(), strict=True)
        kind = self.rng.choices(kinds, weights)[0]
        if kind == "create":
            task = self.api.request(
                "POST",
                "/v1/tasks",
                expect=(201,),
                json={
                    "title": f"Created mid-run {self._n} 🧪",
                    "status": self.rng.choice(ELIGIBLE),
                    "priority": self.rng.randint(1, 4),
                    "due_date": self._date(),
                    "chat_id": self.rng.choice(self.chat_ids),
                },
            )
            self.status[task["id"]] = task["status"]
            self.done[kind] += 1
            return kind
        wanted = {"complete": ("open", "blocked"), "reopen": ("done",), "block": ("open",)}
        wanted["unblock"] = ("blocked",)
        candidates = [i for i, s in self.status.items() if s in wanted.get(kind, ELIGIBLE)]
        if not candidates:
            return "none"
        task_id = self.rng.choice(candidates)
        if kind == "archive":
            self.api.request("DELETE", f"/v1/tasks/{task_id}", expect=(204,))
            del self.status[task_id]
            self.done[kind] += 1
            return kind
        body = {
            "title": {"title": f"Edited {task_id} #{self._n} ✎ {self.rng.choice(['α', '🚀', ''])}"},  # noqa: RUF001
            "priority": {"priority": self.rng.randint(1, 4)},
            "due": {"due_date": self._date()},
            "complete": {"status": "done"},
            "reopen": {"status": self.rng.choice(["open", "blocked"])},
            "block": {"status": "blocked"},
            "unblock": {"status": "open"},
        }[kind]
        task = self.api.request("PATCH", f"/v1/tasks/{task_id}", json=body)
        self.status[task_id] = task["status"]
        self.done[kind] += 1
        return kind

    def _date(self) -> str | None:
        if self.rng.random() < 0.25:
            return None
        return (today() + datetime.timedelta(days=self.rng.randint(-30, 400))).isoformat()
