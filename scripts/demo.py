"""`make demo`: the whole sync, end to end, on this machine, with no account and no network.

What it does, in under a minute:

1. migrates its own SQLite database (var/demo/demo.sqlite3, rebuilt on every run; your db.sqlite3
   is never touched) and seeds a demo user with tasks in every status (`manage.py seed_demo`);
2. starts the local Todoist simulator (NOT Todoist; loopback only), a real `manage.py qcluster`
   worker and the web server (`manage.py runserver`), and waits until each is ready;
3. triggers the sync through the API (`POST /v1/sync/todoist`), follows it on
   `GET /v1/sync/todoist/status?job_id=...`, then prints every task with its Todoist id and state,
   and the status JSON;
4. renames a task, marks one done and reopens another through the task API
   (`PATCH /v1/tasks/{id}`), syncs again and shows exactly what the simulator received;
5. syncs a third time: nothing changed, nothing is sent;
6. renames a task in the simulator as a person would in Todoist, triggers a reconcile
   (`POST /v1/sync/todoist {"reconcile": true}`) and shows the drift noticed and put back;
   then a person makes one task recurring and gives another a time of day there, the local due
   date of both changes, and the demo prints each due before and after: both are kept;
7. connects the demo user through OAuth (`POST /v1/sync/todoist/connect`, the simulator's
   consent page, Allow pressed by the demo over HTTP, the callback) and reconciles once through
   the new token; then a person renames a task in the simulator and the demo triggers nothing:
   the simulator's signed webhook reaches `/todoist/webhooks`, which queues a reconcile, and
   the demo prints how long it took until the simulator shows the local title again;
8. stops everything it started (also on Ctrl-C) and exits 0. Any failure exits non-zero with the
   reason and the last lines of each process's log (kept in var/demo/logs/).

Sync on change (TODOIST_SYNC_ON_CHANGE) is off in the demo's processes: every save through the
API would otherwise queue a sync by itself, and the three edits of step 4 could leave in up to
three runs. Here the demo triggers each run itself, so each run's requests can be shown apart.

The demo user has no Todoist token of its own: it syncs with the shared TODOIST_API_TOKEN, which
syncs nobody unless opted in, so the demo opts it in by name (TODOIST_SHARED_TOKEN_USERS=demo).
Its tasks go to its own project there, "Planner (demo)" (TODOIST_SHARED_PROJECT_NAME). In step 7
it connects the same simulated account through OAuth (the demo's own client id and secret,
made up per run, with the simulator as TODOIST_OAUTH_URL); its project keeps its name
(TODOIST_PROJECT_NAME is set to it), so connecting moves nothing.

--real runs the same steps against the real Todoist API with the token in TODOIST_API_TOKEN: it
creates the demo tasks in that Todoist account, in "Planner (demo)" (delete them yourself
afterwards). Without --real the demo never uses TODOIST_API_TOKEN or any network address but
loopback.

    python -m scripts.demo                               # what `make demo` runs
    TODOIST_API_TOKEN=... python -m scripts.demo --real  # real Todoist: only when asked
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from scripts.harness import (
    REPO_ROOT,
    Api,
    SimProc,
    Stack,
    StackError,
    api_token_from_seed,
    stack_env,
)
from scripts.harness.oauth import oauth_connect, oauth_env, oauth_register
from scripts.harness.process import LOOPBACK, free_port

REAL_API_URL = "https://api.todoist.com/api/v1"
WORK_DIR = REPO_ROOT / "var" / "demo"
SIM_LATENCY_MS = 20
RENAMED_SUFFIX = " (renamed in the demo)"
PERSON_SUFFIX = " (renamed by a person in Todoist)"
WEBHOOK_SUFFIX = " (renamed again, with webhooks on)"
# How long the demo waits for the webhook's reconcile to restore the rename (it takes ~1 s).
WEBHOOK_WAIT_SECONDS = 30
DEMO_USER = "demo"  # the user seed_demo makes


def say(text: str = "") -> None:
    print(text, flush=True)


def step(text: str) -> None:
    say(f"\n==> {text}")


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.real = args.real
        self.todoist_token = (
            os.environ["TODOIST_API_TOKEN"] if self.real else "demo-todoist-" + secrets.token_hex(8)
        )
        self.db_path = WORK_DIR / "demo.sqlite3"
        self.sim: SimProc | None = None
        self.api: Api | None = None
        self.stack: Stack | None = None

    # -- setup ---------------------------------------------------------------------------------

    def prepare(self) -> dict[str, str]:
        """A fresh database of our own; Django set up in this process on the same settings as
        the subprocesses, to read what the demo shows."""
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.db_path}{suffix}").unlink()
        shutil.rmtree(WORK_DIR / "logs", ignore_errors=True)
        env = stack_env(
            database_url=f"sqlite:///{self.db_path}",
            todoist_token=self.todoist_token,
            # The demo user syncs with the shared token: opted in, as an operator would.
            shared_token_users=DEMO_USER,
            todoist_url=REAL_API_URL if self.real else "http://127.0.0.1:9/api/v1",
        )
        os.environ.update(env)
        import django

        django.setup()
        return env

    def migrate_and_seed(self) -> str:
        from django.core.management import call_command

        step(f"Migrating the demo database ({self.db_path.relative_to(REPO_ROOT)})")
        call_command("migrate", interactive=False, verbosity=0)
        step(f"Seeding a demo user with {self.args.tasks} tasks (manage.py seed_demo)")
        out = io.StringIO()
        call_command("seed_demo", tasks=self.args.tasks, username=DEMO_USER, stdout=out)
        say(out.getvalue().rstrip())
        say(
            f"{DEMO_USER!r} syncs with the shared token, opted in by name "
            f"(TODOIST_SHARED_TOKEN_USERS={DEMO_USER}), into a project of its own"
        )
        return api_token_from_seed(out.getvalue())

    def start(self, stack: Stack, env: dict[str, str], api_token: str) -> None:
        if self.real:
            step(f"Using the REAL Todoist API at {REAL_API_URL} (--real)")
        else:
            step(
                "Starting the Todoist simulator (NOT Todoist), a qcluster worker and the web server"
            )
            self.sim = stack.start_simulator(tokens=[self.todoist_token], latency_ms=SIM_LATENCY_MS)
            say(f"    simulator  {self.sim.url}  (pid {self.sim.popen.pid})")
        port = free_port()
        if self.sim is not None:
            self.oauth_settings(stack, f"http://{LOOPBACK}:{port}")
        worker = stack.start_qcluster()
        web = stack.start_web(port)
        stack.wait_ready(timeout=60)
        say(f"    qcluster   worker ready                         (pid {worker.popen.pid})")
        say(f"    web        {web.url:<40} (pid {web.popen.pid})")
        self.api = Api(web.url, api_token)

    # -- one run -------------------------------------------------------------------------------

    def sync(self, title: str, *, reconcile: bool = False) -> tuple[dict[str, Any], int]:
        """Trigger through the API and wait with a progress line; answers the run and its
        SyncRun.requests."""
        from todoist_sync.models import SyncRun

        assert self.api is not None and self.stack is not None
        step(title)
        if reconcile:
            body = {"reconcile": True}
            answer = self.api.request("POST", "/v1/sync/todoist", expect=(202,), json=body)
            job_id = answer["job_id"]
            say(f'    POST /v1/sync/todoist {{"reconcile": true}} -> 202, job {job_id}')
        else:
            job_id = self.api.trigger_sync()
            say(f"    POST /v1/sync/todoist -> 202, job {job_id}")
        tty = sys.stdout.isatty()
        shown = {"state": ""}

        def progress(run: dict[str, Any], elapsed: float) -> None:
            line = f"    {run['state']:<9} {elapsed:5.1f} s"
            if tty:
                print("\r" + line, end="", flush=True)
            elif run["state"] != shown["state"]:
                say(line)
            shown["state"] = run["state"]

        run = self.api.wait_for_run(
            job_id, timeout=self.args.timeout, on_poll=progress, stack=self.stack
        )
        if tty:
            print(flush=True)
        if run["state"] != "succeeded":
            raise StackError(
                f"the sync ended {run['state']}: {run.get('error_summary') or 'no summary'}\n"
                + self.stack.tails()
            )
        requests_sent = SyncRun.objects.get(job_id=job_id).requests
        say(
            f"    {run['state']}: created {run['created']}, updated {run['updated']}, "
            f"closed {run['closed']}, reopened {run['reopened']}, unchanged {run['unchanged']}, "
            f"failed {run['failed']}; Todoist requests (SyncRun.requests): {requests_sent}"
        )
        return run, requests_sent

    # -- what to show --------------------------------------------------------------------------

    def remote_tasks(self) -> dict[str, dict[str, Any]]:
        if self.sim is None:
            return {}
        return {t["id"]: t for t in self.sim.tasks(self.todoist_token)}

    def print_table(self) -> None:
        from planner.models import Task
        from todoist_sync.models import TodoistTaskMap

        remote = self.remote_tasks()
        maps = {m.local_task_id: m for m in TodoistTaskMap.objects.all()}
        held_in = "in Todoist" if self.real else "in the simulator"
        rows = [("id", "title", "status", "Todoist id", "sync", held_in)]
        for task in Task.objects.order_by("id"):
            mapping = maps.get(task.id)
            todoist_id = (mapping.todoist_task_id if mapping else None) or "-"
            there = remote.get(todoist_id)
            if self.real:
                held = "(not read back from Todoist)"
            elif there is None:
                held = "-"
            else:
                held = "completed" if there["checked"] else "open"
                if there["labels"]:
                    held += f", labels {','.join(there['labels'])}"
            rows.append(
                (
                    str(task.id),
                    task.title[:34],
                    task.status,
                    todoist_id,
                    mapping.sync_state if mapping else "-",
                    held,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for number, row in enumerate(rows):
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
            say(("    " + "  ".join(cells)).rstrip())
            if number == 0:
                say("    " + "  ".join("-" * width for width in widths))

    def print_status(self) -> None:
        assert self.api is not None
        step("GET /v1/sync/todoist/status")
        say(json.dumps(self.api.sync_status(), indent=2))

    def edit_three(self) -> dict[str, str]:
        """Rename an open task, mark another done, reopen a done one: through the task API."""
        assert self.api is not None
        tasks = sorted(self.api.tasks(), key=lambda t: t["id"])
        open_tasks = [t for t in tasks if t["status"] == "open"]
        done = next(t for t in tasks if t["status"] == "done")
        renamed, finished = open_tasks[0], open_tasks[1]
        step("Three changes through the task API")
        self.api.patch_task(renamed["id"], title=renamed["title"] + RENAMED_SUFFIX)
        say(f"    PATCH /v1/tasks/{renamed['id']}  title  -> {renamed['title'] + RENAMED_SUFFIX!r}")
        self.api.patch_task(finished["id"], status="done")
        say(f"    PATCH /v1/tasks/{finished['id']}  status -> 'done'   ({finished['title']!r})")
        self.api.patch_task(done["id"], status="open")
        say(f"    PATCH /v1/tasks/{done['id']}  status -> 'open'   ({done['title']!r}, was done)")
        return {
            "renamed": renamed["title"],
            "finished": finished["title"],
            "reopened": done["title"],
        }

    def show_received(self, before: dict[str, Any], log_offset: int, remote_before: dict) -> None:
        """What the simulator received in the last run: its request log, its counters, and the
        effect on its tasks (from which each command's type follows)."""
        if self.sim is None:
            return
        after = self.sim.stats()
        log = self.sim.log_text()[log_offset:]
        lines = [line for line in log.splitlines() if " /api/v1/" in line]
        say(f"    the simulator's request log for this run ({len(lines)} line(s)):")
        for line in lines or ["(no requests)"]:
            say(f"      {line}")
        kinds = {
            kind: after["requests_by_kind"][kind] - before["requests_by_kind"][kind]
            for kind in after["requests_by_kind"]
        }
        sent = {kind: n for kind, n in kinds.items() if n}
        commands = after["sync_commands_executed"] - before["sync_commands_executed"]
        by_kind = ", ".join(f"{kind} {n}" for kind, n in sent.items())
        total = after["requests_total"] - before["requests_total"]
        say(
            f"    simulator counters: {total} request(s){f' ({by_kind})' if by_kind else ''}, "
            f"{commands} /sync command(s) executed"
        )
        changes = []
        for todoist_id, task in self.remote_tasks().items():
            old = remote_before.get(todoist_id)
            if old is None:
                changes.append(("item_add", task["content"], "created"))
                continue
            fields = [
                name
                for name in ("content", "description", "priority", "due", "labels")
                if task[name] != old[name]
            ]
            if fields:
                detail = ", ".join(f"{name} {old[name]!r} -> {task[name]!r}" for name in fields)
                changes.append(("item_update", old["content"], detail))
            if task["checked"] != old["checked"]:
                kind = "item_close" if task["checked"] else "item_uncomplete"
                changes.append(
                    (kind, task["content"], "completed" if task["checked"] else "reopened")
                )
        if changes:
            say("    what those commands did to the simulator's tasks:")
            for kind, content, detail in changes:
                say(f"      {kind:<16} {content!r}: {detail}")

    def drift(self) -> None:
        """A person renames a task in Todoist; a reconcile notices it and puts local truth back."""
        from planner.models import EventLog

        assert self.sim is not None
        mapping = synced_open_mapping(first=True)
        title = mapping.local_task.title
        step("A person renames a task in Todoist (the simulator's POST /__sim__/person/task)")
        self.sim.person_task(
            self.todoist_token, mapping.todoist_task_id, content=title + PERSON_SUFFIX
        )
        say(f"    Todoist task {mapping.todoist_task_id}: {title!r} -> {title + PERSON_SUFFIX!r}")
        run, sent = self.sync("Sync 4: reconcile with Todoist", reconcile=True)
        say(
            f"    drift: detected {run['drift_detected']}, restored {run['drift_restored']}, "
            f"reported {run['drift_reported']}"
        )
        event = (
            EventLog.objects.filter(topic="sync.todoist", data__job_id=run["job_id"])
            .filter(data__local_task_id=mapping.local_task_id)
            .first()
        )
        if event is not None:
            say(f"    event log: [{event.level}] {event.message}")
        content = self.remote_tasks()[mapping.todoist_task_id]["content"]
        say(f"    the task in the simulator now: {content!r}")
        if (run["drift_detected"], run["drift_restored"], content) != (1, 1, title) or sent != 2:
            raise StackError(
                f"the reconcile should notice the rename and put {title!r} back with one read and "
                f"one /sync; it sent {sent} request(s), drift {run['drift_detected']}, and the "
                f"task reads {content!r}"
            )
        say("    -> 2 requests: one read of what changed in Todoist, one /sync putting it back")

    # -- step 7: OAuth, and a person's rename answered by Todoist's webhook -----------------------

    def oauth_settings(self, stack: Stack, web_url: str) -> None:
        """OAuth connect and webhooks on for the web process and the worker, against the
        simulator (set before they start)."""
        assert self.sim is not None
        stack.env.update(oauth_env(sim_root=self.sim.url.removesuffix("/api/v1"), web_url=web_url))
        # Its own project is named as the shared token's was ("Planner (demo)"), so connecting
        # the same account through OAuth moves nothing.
        stack.env["TODOIST_PROJECT_NAME"] = f"Planner ({DEMO_USER})"
        stack.env["TODOIST_SHARED_PROJECT_NAME"] = "Planner ({username})"

    def oauth_and_webhook(self) -> None:
        """Connect through OAuth (the consent approved here, over HTTP), then a person's rename
        in the simulator is restored with no trigger: webhook, endpoint, queued reconcile."""
        from todoist_sync.models import SyncRun

        assert self.sim is not None and self.api is not None and self.stack is not None
        step("Connecting the demo user through OAuth (the simulator's consent page)")
        web_url = self.api.base_url
        oauth_register(self.sim, env=self.stack.env, web_url=web_url)
        say(
            f"    the simulator's app: redirect {self.stack.env['TODOIST_OAUTH_REDIRECT_URL']}, "
            f"webhooks to {web_url}/todoist/webhooks"
        )
        # Delayed and duplicated as by default, but none lost: a lost one would wait for the
        # backstop reconcile (TODOIST_RECONCILE_HOURS), not seconds.
        self.sim.control("POST", "webhooks", {"lost_rate": 0.0})
        oauth_connect(self.api, account=self.sim.account(self.todoist_token))
        say("    POST /v1/sync/todoist/connect -> 201 {authorize_url}; consent page: Allow")
        say("    callback: 'Todoist is connected; you can go back to the chat.'")
        say(f"    status: connection {self.api.sync_status()['connection']!r}")
        # A reconcile: the first read through the new token is of the whole account, done here
        # rather than in the webhook's run below.
        self.sync("Sync 7: reconcile through the OAuth token", reconcile=True)
        mapping = synced_open_mapping(first=False)  # not the task the drift step renamed
        title = mapping.local_task.title
        last_run = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        before = self.sim.stats()["requests_total"]
        step("A person renames a task in Todoist; the demo triggers nothing")
        self.sim.person_task(
            self.todoist_token, mapping.todoist_task_id, content=title + WEBHOOK_SUFFIX
        )
        started = time.monotonic()
        say(f"    Todoist task {mapping.todoist_task_id}: {title!r} -> {title + WEBHOOK_SUFFIX!r}")
        while self.remote_tasks()[mapping.todoist_task_id]["content"] != title:
            self.webhook_wait(started)
            time.sleep(0.05)
        took = time.monotonic() - started
        say(f"    restored in {took:.1f} s: the simulator shows {title!r} again")
        # The run's tally is written as it ends; the echo of its write and any duplicate
        # delivery arrive meanwhile (the simulator delays each by up to 0.8 s).
        active = (SyncRun.State.QUEUED, SyncRun.State.RUNNING)
        while SyncRun.objects.filter(pk__gt=last_run, state__in=active).exists():
            self.webhook_wait(started)
            time.sleep(0.1)
        time.sleep(1)
        runs = list(SyncRun.objects.filter(pk__gt=last_run).order_by("pk"))
        used = self.sim.stats()["requests_total"] - before
        for run in runs:
            say(
                f"    run {run.job_id[:8]}: trigger {run.trigger!r}, drift detected "
                f"{run.drift_detected}, restored {run.drift_restored}, {run.requests} requests"
            )
        hooks = self.api.sync_status()["webhooks"]
        say(
            f"    webhooks: {hooks['accepted']} accepted (queued the reconcile), "
            f"{hooks['ignored']} ignored (the echo of the restore, repeats), "
            f"{hooks['rejected']} rejected; Todoist requests in all: {used}"
        )
        if not any(run.trigger == "webhook" for run in runs):
            raise StackError("the rename was restored, but by no webhook's run")

    def webhook_wait(self, started: float) -> None:
        assert self.stack is not None
        if time.monotonic() - started > WEBHOOK_WAIT_SECONDS:
            raise StackError(
                f"the webhook's reconcile did not end within {WEBHOOK_WAIT_SECONDS} s\n"
                + self.stack.tails()
            )
        self.stack.check_alive()

    def coexist(self) -> None:
        """A person makes one task recurring and gives another a time of day in Todoist; a
        local change of each one's date is synced; both keep what the person set."""
        from todoist_sync.models import TodoistTaskMap

        assert self.sim is not None and self.api is not None
        mappings = list(
            TodoistTaskMap.objects.filter(
                sync_state="synced", local_task__status="open", local_task__due_date__isnull=False
            )
            .select_related("local_task")
            .order_by("local_task_id")[:2]
        )
        step("A person makes one task recurring and gives another a time, in Todoist")
        # On each task's own date: the person refines the due, the date stays local truth.
        recurring, timed = (m.local_task.due_date.isoformat() for m in mappings)
        for mapping, due in zip(
            mappings,
            ({"date": recurring, "string": "every week"}, f"{timed}T10:00:00"),
            strict=True,
        ):
            self.sim.person_task(self.todoist_token, mapping.todoist_task_id, due=due)
        self.sync("Sync 5: reconcile (Todoist's refinements are not drift)", reconcile=True)
        before = {
            m.todoist_task_id: self.remote_tasks()[m.todoist_task_id]["due"] for m in mappings
        }
        step("The local due date of both changes, through the task API")
        for mapping in mappings:
            self.api.patch_task(mapping.local_task_id, due_date="2026-12-09")
            say(f"    PATCH /v1/tasks/{mapping.local_task_id}  due_date -> '2026-12-09'")
        self.sync("Sync 6: the two new dates")
        for mapping in mappings:
            old, new = (
                before[mapping.todoist_task_id],
                self.remote_tasks()[mapping.todoist_task_id]["due"],
            )
            say(f"    {mapping.local_task.title!r}:")
            say(f"      due before: {_due_text(old)}")
            say(f"      due after:  {_due_text(new)}")
            kept = new["date"].startswith("2026-12-09") and (
                new["is_recurring"] == old["is_recurring"] and new["date"][10:] == old["date"][10:]
            )
            if not kept:
                raise StackError(f"the local date change lost what the person set: {old} -> {new}")
        say("    -> the new date went out with the recurrence and the time of day kept")

    # -- the whole demo ------------------------------------------------------------------------

    def run(self) -> None:
        started = time.monotonic()
        env = self.prepare()
        api_token = self.migrate_and_seed()
        with Stack(env=env, log_dir=WORK_DIR / "logs") as stack:
            self.stack = stack
            try:
                self.start(stack, env, api_token)

                run, sent = self.sync("Sync 1: everything is new")
                step("Local task -> Todoist id and state")
                self.print_table()
                self.print_status()

                edits = self.edit_three()
                before = self.sim.stats() if self.sim else {}
                remote_before = self.remote_tasks()
                offset = len(self.sim.log_text()) if self.sim else 0
                run, sent = self.sync("Sync 2: the three changes, and nothing else")
                self.show_received(before, offset, remote_before)
                expected = {"updated": 1, "closed": 1, "reopened": 1, "created": 0}
                got = {key: run[key] for key in expected}
                if got != expected or sent != 1:
                    raise StackError(
                        f"sync 2 should send the three changes in one request, sent {sent} "
                        f"request(s) with {got}"
                    )
                say(
                    f"    -> one /sync request carrying 3 commands: renamed {edits['renamed']!r}, "
                    f"completed {edits['finished']!r}, reopened {edits['reopened']!r}"
                )

                before = self.sim.stats() if self.sim else {}
                offset = len(self.sim.log_text()) if self.sim else 0
                run, sent = self.sync("Sync 3: nothing changed")
                self.show_received(before, offset, self.remote_tasks())
                if sent != 0:
                    raise StackError(f"sync 3 should send nothing; it sent {sent} request(s)")
                say("    -> 0 requests")

                if self.sim is not None:  # --real: a person's edit cannot be staged
                    self.drift()
                    self.coexist()

                if self.sim is not None:  # --real: no OAuth app of the demo's at Todoist
                    self.oauth_and_webhook()
            finally:
                step("Stopping everything the demo started")
                codes = stack.stop_all()
                say("    " + ", ".join(f"{name}: {_ended(code)}" for name, code in codes.items()))
        say(
            f"\nDemo finished in {time.monotonic() - started:.0f} s. Database and logs kept in "
            f"{WORK_DIR.relative_to(REPO_ROOT)}/ (rebuilt on the next run)."
        )


def synced_open_mapping(*, first: bool) -> Any:
    """The mapping of the first (or last) open task the sync has in Todoist."""
    from todoist_sync.models import TodoistTaskMap

    order = "local_task_id" if first else "-local_task_id"
    return (
        TodoistTaskMap.objects.filter(sync_state="synced", local_task__status="open")
        .select_related("local_task")
        .order_by(order)
        .first()
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.demo",
        description="Run the Todoist sync end to end on this machine: the local simulator (NOT "
        "Todoist), a real qcluster worker and the web API. No account, no network.",
        epilog="--real uses the real Todoist API instead of the simulator, with the token in "
        "TODOIST_API_TOKEN; it creates the demo tasks in that account. It is never the default: "
        "without --real the demo ignores TODOIST_API_TOKEN and talks to loopback only.",
    )
    parser.add_argument("--tasks", type=int, default=30, help="tasks to seed (default 30)")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for each sync (default 120)"
    )
    parser.add_argument(
        "--real",
        action="store_true",
        help="sync to the REAL Todoist account of TODOIST_API_TOKEN instead of the simulator",
    )
    return parser


def _due_text(due: dict[str, Any] | None) -> str:
    if not due:
        return "none"
    recurring = f", recurring {due['string']!r}" if due.get("is_recurring") else ""
    zone = f" ({due['timezone']})" if due.get("timezone") else ""
    return f"{due['date']}{zone}{recurring}"


def _ended(code: int | None) -> str:
    if code == 0 or code == -signal.SIGTERM:
        return "stopped"  # runserver has no SIGTERM handler: it ends by the signal
    if code == -signal.SIGKILL:
        return "killed (did not stop within 10 s)"
    return f"exited with status {code}"


def _raise_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # so the `finally` blocks stop the subprocesses


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.real and not os.environ.get("TODOIST_API_TOKEN", "").strip():
        parser.error("--real needs a Todoist token in TODOIST_API_TOKEN")
    if args.tasks < 4:
        parser.error("--tasks must be at least 4 (the demo needs two open tasks and a done one)")
    if args.real:
        say(
            f"WARNING: --real syncs {args.tasks} demo tasks to the real Todoist account of "
            "TODOIST_API_TOKEN. Delete them there afterwards."
        )
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    demo = Demo(args)
    try:
        demo.run()
    except StackError as exc:
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted: everything the demo started was stopped.", file=sys.stderr)
        return 130
    except Exception as exc:
        import traceback

        traceback.print_exc()
        tails = demo.stack.tails() if demo.stack else ""
        print(f"\nDEMO FAILED: {type(exc).__name__}: {exc}\n{tails}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
