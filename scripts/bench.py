"""`make bench`: the Todoist sync engine against the local simulator (NOT Todoist).

One run measures, on a throwaway SQLite file (or DATABASE_URL when set) and the in-process
simulator with 20 ms of latency per request:

- initial sync of each size (default 1,000 and 10,000 tasks), a re-run with nothing changed and a
  re-run with 10% of the titles edited;
- for each: Todoist requests (the simulator's count and `SyncRun.requests`; they must agree),
  wall time (and how much of it is HTTP and database), database queries and tracemalloc peak;
- the same scenarios through the naive path (`TODOIST_USE_BATCH=False`, one REST request per
  change) for sizes up to --naive-max; larger sizes get an estimate (requests x latency);
- a pacing check: the simulator limiting 50 requests per 10 s, the budget set to match, and the
  naive path sending 120 requests, so the budget must wait twice (and no 429 may come back);
- with --rate-limit (which `make bench` passes), issue #5's rate-limit scenario: the initial sync
  of 10,000 tasks under that limit (about 13 s);
- PASS/FAIL next to each target of issue #5. Exits 1 when a target fails.

Nothing here talks to Todoist: the URL and token are the simulator's, set per scenario.

    python -m scripts.bench --rate-limit         # what `make bench` runs
    python -m scripts.bench --rate-limit --markdown /tmp/bench.md   # what BENCHMARKS.md shows
    python -m scripts.bench --sizes 1000 --no-memory --no-pacing    # a quick look
    python -m scripts.bench --profile            # cProfile of the largest batched initial sync
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import math
import os
import platform
import pstats
import re
import secrets
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.harness import Stack

LATENCY_MS = 20.0
RATE_LIMIT = 50
RATE_WINDOW = 10.0
# A budget no bench scenario reaches, so only the rate-limit scenario is paced.
UNLIMITED_BUDGET = 1_000_000
EDIT_SUFFIX = " (edited)"
# The pacing check: more requests than two windows allow, so the budget must wait twice.
PACING_SIZE = round(2.4 * RATE_LIMIT)
PACING_LINE = re.compile(r"pacing: waiting ([\d.]+) s")


# --------------------------------------------------------------------------------------------
# Environment, before Django is imported


def _prepare_environment() -> Path | None:
    """Bench-only settings; answers the SQLite file this run creates (None: DATABASE_URL given)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    # The sync's defaults, whatever the shell says (each scenario overrides what it varies).
    for name in [name for name in os.environ if name.startswith("TODOIST_")]:
        del os.environ[name]
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + secrets.token_hex(16))
    # Never a real Todoist: every scenario sets the simulator's URL and token; these are the
    # values in force outside them (a discard port on loopback, and no token at all).
    os.environ["TODOIST_API_URL"] = "http://127.0.0.1:9/api/v1"
    os.environ["TODOIST_API_TOKEN"] = ""
    os.environ["TODOIST_SYNC_ON_CHANGE"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    created = None
    if not os.environ.get("DATABASE_URL"):
        created = Path(tempfile.gettempdir()) / f"planner-bench-{os.getpid()}.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{created}"
    return created


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()


# --------------------------------------------------------------------------------------------
# Measurements


class QueryCounter:
    """`connection.execute_wrapper` hook: counts statements and the time spent in them."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.by_kind: Counter[str] = Counter()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1
            self.by_kind[sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"] += 1


class HttpTimer:
    """A response hook on the client's shared session: time from sending to the answer's headers."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        self.seconds += response.elapsed.total_seconds()
        self.count += 1
        return response


@dataclass
class Result:
    scenario: str
    path: str  # batched / naive
    size: int
    requests_sim: int = 0
    requests_run: int = 0
    commands: int = 0
    responses_429: int = 0
    wall: float = 0.0
    http: float = 0.0
    db: float = 0.0
    queries: int = 0
    query_kinds: dict[str, int] = field(default_factory=dict)
    peak_bytes: int | None = None
    state: str = ""
    counts: str = ""
    estimated: bool = False
    note: str = ""
    paced: int = 0  # waits for the request budget, and their total
    paced_seconds: float = 0.0

    @property
    def requests(self) -> int:
        return self.requests_sim


class Bench:
    def __init__(self, args: argparse.Namespace, sim: Any, tokens: dict[str, str]) -> None:
        from todoist_sync import todoist

        self.args = args
        self.sim = sim
        self.tokens = tokens
        self.results: list[Result] = []
        self.http = HttpTimer()
        todoist._get_shared_session().hooks["response"].append(self.http)
        self.profile_text = ""

    def log(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    # -- data ----------------------------------------------------------------------------------

    def make_user(self, label: str, size: int, *, done_share: bool = False) -> Any:
        """A fresh user with `size` tasks, as a planner used for a while holds them: 97% done
        (create + close: two commands), 3% open or blocked (one command), so no project holds
        more than Todoist's 300 open tasks at 10,000. With `done_share`, every fourth done and
        the rest open, spread over three chats with a project each (at most 1,000 tasks)."""
        import datetime

        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from planner.models import Task

        user = get_user_model().objects.create(username=f"bench-{os.getpid()}-{label}")
        today = timezone.localdate()
        words = ["report", "groceries", "dentist", "invoice", "slides", "garden", "taxes", "bike"]
        tasks = []
        for i in range(size):
            if done_share:
                status = "done" if i % 4 == 3 else "blocked" if i % 5 == 0 else "open"
            else:
                status = "open" if i % 100 < 2 else "blocked" if i % 100 == 2 else "done"
            tasks.append(
                Task(
                    user=user,
                    chat_id=1000 + i % 3,
                    title=f"Task {i}: {words[i % len(words)]}",
                    description="Benchmark task." if i % 3 == 0 else "",
                    status=status,
                    priority=1 + i % 4,
                    due_date=today + datetime.timedelta(days=i % 30) if i % 2 == 0 else None,
                )
            )
        Task.objects.bulk_create(tasks, batch_size=1000)
        if done_share:
            from todoist_sync.models import TodoistChatProject

            TodoistChatProject.objects.bulk_create(
                TodoistChatProject(user=user, chat_id=1000 + n, project_name=f"Chat {n}")
                for n in range(3)
            )
        return user

    def edit_titles(self, user: Any, share: float = 0.1) -> int:
        from django.db.models import F, Value
        from django.db.models.functions import Concat

        from planner.models import Task

        ids = list(Task.objects.filter(user=user).order_by("id").values_list("id", flat=True))
        chosen = ids[:: round(1 / share)]
        Task.objects.filter(id__in=chosen).update(title=Concat(F("title"), Value(EDIT_SUFFIX)))
        return len(chosen)

    # -- one measured run ----------------------------------------------------------------------

    @contextlib.contextmanager
    def settings_for(self, label: str, *, batch: bool, limited: bool = False) -> Iterator[None]:
        from django.test import override_settings

        with override_settings(
            TODOIST_API_URL=self.sim.url,
            TODOIST_API_TOKEN=self.tokens[label],
            # The scenario's one user, opted in to that token (see `make_user`).
            TODOIST_SHARED_TOKEN_USERS=f"bench-{os.getpid()}-{label}",
            TODOIST_USE_BATCH=batch,
            TODOIST_BATCH_SIZE=100,
            TODOIST_RATE_LIMIT_REQUESTS=RATE_LIMIT if limited else UNLIMITED_BUDGET,
            # One user per token here: their share of it is the whole budget.
            TODOIST_RATE_LIMIT_USER_REQUESTS=RATE_LIMIT if limited else UNLIMITED_BUDGET,
            TODOIST_RATE_LIMIT_WINDOW=RATE_WINDOW if limited else 900.0,
            TODOIST_RATE_LIMIT_MAX_WAIT=120.0,
        ):
            yield

    def measure(
        self,
        scenario: str,
        path: str,
        size: int,
        user: Any,
        label: str,
        *,
        limited: bool = False,
        profile: bool = False,
        trace: bool = False,
    ) -> Result:
        from django.db import connection

        from todoist_sync.services import sync_run_execute

        result = Result(scenario=scenario, path=path, size=size)
        counter = QueryCounter()
        before = self.sim.stats()
        http_before = self.http.seconds
        profiler = cProfile.Profile() if profile else None

        def progress(line: str) -> None:
            paced = PACING_LINE.match(line)
            if paced:
                result.paced += 1
                result.paced_seconds += float(paced.group(1))
            if self.args.verbose:
                self.log(f"    {line}")

        with self.settings_for(label, batch=path == "batched", limited=limited):
            with connection.execute_wrapper(counter):
                if trace:
                    tracemalloc.start()
                    tracemalloc.reset_peak()
                if profiler:
                    profiler.enable()
                started = time.perf_counter()
                run = sync_run_execute(user_id=user.pk, trigger="bench", progress=progress)
                result.wall = time.perf_counter() - started
                if profiler:
                    profiler.disable()
                if trace:
                    result.peak_bytes = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
        after = self.sim.stats()
        result.requests_sim = after["requests_total"] - before["requests_total"]
        result.requests_run = run.requests
        result.commands = after["sync_commands_executed"] - before["sync_commands_executed"]
        if path == "naive":
            # One REST request per command: the mutating requests are the commands.
            result.commands = sum(
                after["requests_by_kind"][k] - before["requests_by_kind"][k]
                for k in ("create", "update", "close", "reopen")
            )
        result.responses_429 = after["responses_429"] - before["responses_429"]
        result.http = self.http.seconds - http_before
        result.db = counter.seconds
        result.queries = counter.count
        result.query_kinds = dict(counter.by_kind.most_common())
        result.state = run.state
        result.counts = (
            f"created {run.created}, updated {run.updated}, closed {run.closed}, "
            f"reopened {run.reopened}, unchanged {run.unchanged}, failed {run.failed}"
        )
        if trace:
            peak = _fmt_mib(result.peak_bytes)
            self.log(f"  {scenario:<34} {path:<7} {size:>6} tasks: peak {peak} MiB (traced)")
            return result
        if profiler:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).strip_dirs()
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(30)
            self.profile_text = out.getvalue()
        self.results.append(result)
        self.log(
            f"  {scenario:<34} {path:<7} {size:>6} tasks: {result.requests_sim:>5} requests, "
            f"{result.wall:7.2f} s, {result.queries:>6} queries, state {run.state}"
        )
        return result

    # -- scenarios -----------------------------------------------------------------------------

    def size_series(self, size: int, path: str) -> None:
        label = f"{path}-{size}"
        self.log(f"{path} path, {size} tasks")
        user = self.make_user(label, size)
        profile = self.args.profile and path == "batched" and size == max(self.args.sizes)
        first = self.measure("initial sync", path, size, user, label, profile=profile)
        self.verify_initial(user, label, size, first)
        self.measure("re-run, nothing changed", path, size, user, label)
        edited = self.edit_titles(user)
        changed = self.measure("re-run, 10% titles edited", path, size, user, label)
        self.verify_edited(label, edited, changed)

    def memory_series(self, size: int, path: str) -> None:
        """The same series again on a fresh user under tracemalloc, which slows Python several
        times over: kept out of the timed runs, only the peaks are taken from here."""
        label = f"{path}-{size}-mem"
        self.log(f"{path} path, {size} tasks, under tracemalloc")
        user = self.make_user(label, size)
        runs = [self.measure("initial sync", path, size, user, label, trace=True)]
        runs.append(self.measure("re-run, nothing changed", path, size, user, label, trace=True))
        self.edit_titles(user)
        runs.append(self.measure("re-run, 10% titles edited", path, size, user, label, trace=True))
        timed = {(r.scenario, r.path, r.size): r for r in self.results if not r.estimated}
        for run in runs:
            target = timed.get((run.scenario, run.path, run.size))
            if target is not None:
                target.peak_bytes = run.peak_bytes
                if run.requests_sim != target.requests_sim:
                    target.note += f"; the traced run sent {run.requests_sim} requests"

    def mixed_series(self, size: int) -> None:
        label = f"mixed-{size}"
        size = min(size, 1000)  # three projects of at most 300 open tasks
        self.log(f"batched path, {size} tasks, every fourth done, three chats' projects")
        user = self.make_user(label, size, done_share=True)
        result = self.measure("initial sync, 25% done (info)", "batched", size, user, label)
        self.verify_initial(user, label, size, result)

    def rate_limit_series(self, size: int) -> None:
        label = f"limited-{size}"
        self.log(
            f"rate limit: simulator {RATE_LIMIT} requests per {RATE_WINDOW:.0f} s, "
            f"budget the same; {size} tasks"
        )
        user = self.make_user(label, size)
        self.sim.configure(request_limit=RATE_LIMIT, limit_window_seconds=RATE_WINDOW)
        try:
            result = self.measure(
                "initial sync under rate limit", "batched", size, user, label, limited=True
            )
        finally:
            self.sim.configure(request_limit=None)
        self.verify_initial(user, label, size, result)

    def pacing_series(self, size: int) -> None:
        """The naive path (one request per task) under the same limit: more requests than one
        window allows, whatever the engine's speed, so the budget must pace them."""
        label = f"paced-{size}"
        self.log(f"rate limit, naive path: {size} tasks = {size} requests must be paced")
        user = self.make_user(label, size)
        self.sim.configure(request_limit=RATE_LIMIT, limit_window_seconds=RATE_WINDOW)
        try:
            result = self.measure(PACING_SCENARIO, "naive", size, user, label, limited=True)
        finally:
            self.sim.configure(request_limit=None)
        self.verify_initial(user, label, size, result)

    def estimate_naive(self) -> None:
        """Naive figures for sizes above --naive-max: one request per command, at the latency."""
        measured = {(r.scenario, r.size) for r in self.results if r.path == "naive"}
        for batched in [r for r in self.results if r.path == "batched"]:
            if batched.scenario not in NAIVE_SCENARIOS or (batched.scenario, batched.size) in (
                measured
            ):
                continue
            self.results.append(
                Result(
                    scenario=batched.scenario,
                    path="naive",
                    size=batched.size,
                    requests_sim=batched.commands,
                    requests_run=batched.commands,
                    commands=batched.commands,
                    wall=batched.commands * LATENCY_MS / 1000,
                    http=batched.commands * LATENCY_MS / 1000,
                    estimated=True,
                )
            )

    # -- checks that the runs did what they claim -------------------------------------------------

    def verify_initial(self, user: Any, label: str, size: int, result: Result) -> None:
        from todoist_sync.models import TodoistTaskMap

        live = [t for t in self.sim.tasks(self.tokens[label]) if not t["is_deleted"]]
        synced = TodoistTaskMap.objects.filter(user=user, sync_state="synced").count()
        problems = []
        if len(live) != size:
            problems.append(f"simulator holds {len(live)} tasks, not {size}")
        if synced != size:
            problems.append(f"{synced} of {size} mappings synced")
        if result.requests_sim != result.requests_run:
            problems.append(
                f"simulator counted {result.requests_sim} requests, the run {result.requests_run}"
            )
        result.note = "; ".join(problems) or "verified"

    def verify_edited(self, label: str, edited: int, result: Result) -> None:
        tasks = self.sim.tasks(self.tokens[label])
        shown = sum(t["content"].endswith(EDIT_SUFFIX) for t in tasks)
        problems = []
        if shown != edited:
            problems.append(f"{shown} edited titles in the simulator, not {edited}")
        if result.requests_sim != result.requests_run:
            problems.append(
                f"simulator counted {result.requests_sim} requests, the run {result.requests_run}"
            )
        result.note = "; ".join(problems) or "verified"


PACING_SCENARIO = "initial sync under rate limit (pacing check)"
NAIVE_SCENARIOS = ("initial sync", "re-run, nothing changed", "re-run, 10% titles edited")


# --------------------------------------------------------------------------------------------
# Report


def machine_info() -> dict[str, str]:
    import django
    from django.db import connection

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    vendor = connection.vendor
    if vendor == "postgresql":
        version = connection.pg_version
        engine = f"PostgreSQL {version // 10000}.{version % 10000}"
    elif vendor == "sqlite":
        engine = f"SQLite {sqlite3.sqlite_version} (file, WAL)"
    else:
        engine = vendor
    return {
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "SQLite library": sqlite3.sqlite_version,
        "Database": engine,
        "Simulator": f"todoist_sim in its own process on loopback, {LATENCY_MS:.0f} ms latency "
        "per request",
    }


def _fmt_mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f}"


def _ratio(a: float, b: float) -> str:
    if b == 0:
        return "-" if a == 0 else "∞"
    return f"{a / b:.1f}x"


def _per(value: int, divisor: int) -> str:
    return "-" if divisor == 0 else f"{value / divisor:.2f}"


def render(bench: Bench, machine: dict[str, str], started: float, argv: list[str]) -> str:
    results = bench.results
    lines = ["## Machine", ""]
    lines += [f"- {name}: {value}" for name, value in machine.items()]
    lines += [
        f"- Command: `python -m scripts.bench {' '.join(argv)}`".replace(" `", " `", 1),
        f"- Total bench time: {time.perf_counter() - started:.0f} s",
        "",
        "## Runs",
        "",
        "Requests: the simulator's count / `SyncRun.requests`. HTTP: time waiting for answers "
        "(latency included); DB: time in database statements; the rest is Python in the engine. "
        "Peak: tracemalloc peak during the run. Naive rows marked *est.* are requests x latency.",
        "",
        "| Scenario | Path | Tasks | Requests (sim / run) | Commands | 429s | Budget waits "
        "| Wall s | HTTP s | DB s | Queries | Queries / request | Queries / task | Peak MiB "
        "| State | Check |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for r in results:
        if r.estimated:
            lines.append(
                f"| {r.scenario} | naive | {r.size:,} | {r.requests:,} (est.) | {r.commands:,} "
                f"| - | - | {r.wall:.1f} (est.) | - | - | - | - | - | - | - | estimated |"
            )
            continue
        lines.append(
            f"| {r.scenario} | {r.path} | {r.size:,} | {r.requests_sim:,} / {r.requests_run:,} "
            f"| {r.commands:,} | {r.responses_429} "
            f"| {f'{r.paced} ({r.paced_seconds:.1f} s)' if r.paced else '0'} "
            f"| {r.wall:.2f} | {r.http:.2f} | {r.db:.2f} "
            f"| {r.queries:,} | {_per(r.queries, r.requests_run)} | {_per(r.queries, r.size)} "
            f"| {_fmt_mib(r.peak_bytes)} | {r.state} | {r.note or '-'} |"
        )

    lines += [
        "",
        "## Batched vs naive (one REST request per change), same data, same run",
        "",
        "| Scenario | Tasks | Batched requests | Naive requests | Ratio | Batched s | Naive s "
        "| Ratio |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    naive = {(r.scenario, r.size): r for r in results if r.path == "naive"}
    for r in results:
        if r.path != "batched" or (r.scenario, r.size) not in naive:
            continue
        n = naive[(r.scenario, r.size)]
        est = " (est.)" if n.estimated else ""
        if n.estimated and n.requests == 0:
            # Nothing to send: both paths do the same reads, so there is nothing to estimate.
            naive_s, time_ratio = "as batched", "-"
        else:
            naive_s, time_ratio = f"{n.wall:.2f}{est}", f"{_ratio(n.wall, r.wall)}{est}"
        lines.append(
            f"| {r.scenario} | {r.size:,} | {r.requests:,} | {n.requests:,}{est} "
            f"| {_ratio(n.requests, r.requests)} | {r.wall:.2f} | {naive_s} | {time_ratio} |"
        )

    lines += ["", "## Targets (issues #5 and #10)", "", "| Target | Figure | Limit | Result |"]
    lines += ["|---|---|---|---|"]
    for target, figure, limit, ok in targets(results):
        lines.append(f"| {target} | {figure} | {limit} | {'PASS' if ok else '**FAIL**'} |")

    lines += ["", "## Statements by kind (batched runs)", ""]
    lines += ["| Scenario | Tasks | Statements |", "|---|--:|---|"]
    for r in results:
        if r.path == "batched" and not r.estimated:
            kinds = ", ".join(f"{k} {v:,}" for k, v in r.query_kinds.items())
            lines.append(f"| {r.scenario} | {r.size:,} | {kinds} |")
    return "\n".join(lines) + "\n"


def targets(results: list[Result]) -> list[tuple[str, str, str, bool]]:
    batched = {(r.scenario, r.size): r for r in results if r.path == "batched"}
    rows: list[tuple[str, str, str, bool]] = []
    sizes = sorted({r.size for r in results if r.scenario == "initial sync"})
    for size in sizes:
        initial = batched.get(("initial sync", size))
        if initial:
            # Issue #10: ceil(commands / 100) + 2 (the account's read, and room for one more);
            # the project's creation is one of the commands.
            limit = math.ceil(initial.commands / 100) + 2
            rows.append(
                (
                    f"Initial sync of {size:,}: requests",
                    f"{initial.requests}",
                    f"<= {limit}",
                    initial.requests <= limit and initial.requests == initial.requests_run,
                )
            )
        unchanged = batched.get(("re-run, nothing changed", size))
        if unchanged:
            rows.append(
                (
                    f"Re-run of {size:,}, nothing changed: requests",
                    f"{unchanged.requests}",
                    "0",
                    unchanged.requests == 0,
                )
            )
        edited = batched.get(("re-run, 10% titles edited", size))
        if edited:
            limit = math.ceil(0.1 * size / 100) + 2
            rows.append(
                (
                    f"Re-run of {size:,}, 10% changed: requests",
                    f"{edited.requests}",
                    f"<= {limit}",
                    edited.requests <= limit,
                )
            )
    big = batched.get(("initial sync", 10_000))
    if big:
        floor = big.requests * LATENCY_MS / 1000
        rows.append(
            (
                "Initial sync of 10,000: wall time",
                f"{big.wall:.2f} s ({big.wall / floor:.2f}x of {big.requests} x "
                f"{LATENCY_MS:.0f} ms = {floor:.2f} s)"
                if floor
                else f"{big.wall:.2f} s",
                f"<= 1.3x ({1.3 * floor:.2f} s) and < 10 s",
                bool(floor) and big.wall <= 1.3 * floor and big.wall < 10,
            )
        )
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        for scenario in ("initial sync", "re-run, 10% titles edited"):
            a, b = batched.get((scenario, small)), batched.get((scenario, large))
            if not (a and b and a.requests_run and b.requests_run):
                continue
            per_batch_a, per_batch_b = a.queries / a.requests_run, b.queries / b.requests_run
            per_task_a, per_task_b = a.queries / a.size, b.queries / b.size
            # Growing with batches: about the same per batch at both sizes, well under one per task.
            ok = per_batch_b <= 1.5 * per_batch_a and per_task_b < 0.5
            rows.append(
                (
                    f"{scenario.capitalize()}: queries grow with batches, not tasks",
                    f"{small:,}: {a.queries:,} queries = {per_batch_a:.1f}/batch, "
                    f"{per_task_a:.3f}/task; {large:,}: {b.queries:,} = {per_batch_b:.1f}/batch, "
                    f"{per_task_b:.3f}/task",
                    "per batch steady (<= 1.5x), < 0.5 per task",
                    ok,
                )
            )
    unchanged = [r for r in results if r.path == "batched" and r.scenario.startswith("re-run, no")]
    if len(unchanged) >= 2:
        a, b = unchanged[0], unchanged[-1]
        rows.append(
            (
                "Re-run, nothing changed: queries independent of size",
                f"{a.size:,}: {a.queries}; {b.size:,}: {b.queries}",
                "same count",
                a.queries == b.queries,
            )
        )
    for scenario in ("initial sync under rate limit", PACING_SCENARIO):
        limited = next((r for r in results if r.scenario == scenario), None)
        if not limited:
            continue
        name = f"Rate limit {RATE_LIMIT}/{RATE_WINDOW:.0f} s, {limited.path} initial sync of "
        name += f"{limited.size:,}"
        rows.append(
            (
                f"{name}: 429 answers",
                f"{limited.responses_429} ({limited.state}; {limited.paced} budget waits)",
                "0",
                limited.responses_429 == 0 and limited.state == "succeeded",
            )
        )
        # The last window's requests cannot start before (windows - 1) full windows passed.
        floor = max(math.ceil(limited.requests / RATE_LIMIT) - 1, 0) * RATE_WINDOW
        if not floor:
            continue  # fits in one window: nothing to compare with
        rows.append(
            (
                f"{name}: wall time vs what the limit allows",
                f"{limited.wall:.1f} s for {limited.requests} requests; the limit allows no less "
                f"than {floor:.0f} s ({limited.wall / floor:.2f}x)",
                f"<= 2x that ({2 * floor:.0f} s)",
                limited.wall <= 2 * floor,
            )
        )
    return rows


# --------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench",
        description="Benchmark the Todoist sync against the local simulator (never Todoist).",
    )
    parser.add_argument(
        "--sizes",
        default="1000,10000",
        type=lambda text: sorted({int(part) for part in text.split(",") if part.strip()}),
        help="task counts, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--naive-max",
        type=int,
        default=1000,
        help="run the naive path for sizes up to this; larger ones are estimated (default 1000)",
    )
    parser.add_argument(
        "--rate-limit",
        action=argparse.BooleanOptionalAction,
        default=False,
        help=f"the initial sync of --rate-limit-size tasks under {RATE_LIMIT} requests per "
        f"{RATE_WINDOW:.0f} s (opt-in: over a minute with today's engine)",
    )
    parser.add_argument("--rate-limit-size", type=int, default=10_000)
    parser.add_argument(
        "--pacing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"the pacing check: {PACING_SIZE} naive requests under the same limit (~21 s)",
    )
    parser.add_argument(
        "--mixed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also an initial sync of the smallest size with every fourth task done (info only)",
    )
    parser.add_argument(
        "--memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="peak memory: each series again under tracemalloc (not timed); --no-memory skips",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the largest batched initial sync"
    )
    parser.add_argument("--markdown", metavar="PATH", help="also write the report to PATH")
    parser.add_argument("--keep-db", action="store_true", help="keep the throwaway SQLite file")
    parser.add_argument(
        "--in-process-sim",
        action="store_true",
        help="run the simulator as a thread of this process (its work then competes with the "
        "engine for the GIL, which a remote Todoist never does)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="the engine's progress lines")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if not args.sizes or min(args.sizes) < 1:
        _parser().error("--sizes needs positive task counts")
    started = time.perf_counter()
    created_db = _prepare_environment()
    try:
        return _run(args, argv, started, created_db)
    finally:
        if created_db is not None and not args.keep_db:
            _remove_sqlite(created_db)


def _run(args: argparse.Namespace, argv: list[str], started: float, created_db: Path | None) -> int:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from todoist_sim import SimConfig, Simulator

    call_command("migrate", verbosity=0)
    labels = [
        f"{path}-{size}{suffix}"
        for size in args.sizes
        for path in ("batched", "naive")
        for suffix in ("", "-mem")
    ]
    labels += [f"mixed-{min(args.sizes)}", f"limited-{args.rate_limit_size}"]
    labels += [f"paced-{PACING_SIZE}"]
    # A fresh account (token) per scenario, so budgets and simulator tasks never mix.
    tokens = {label: f"bench-{label}-{secrets.token_hex(8)}" for label in labels}
    with contextlib.ExitStack() as cleanup:
        if created_db is None:
            # DATABASE_URL was given: leave it as it was found, also after a failure.
            cleanup.callback(
                lambda: (
                    get_user_model()
                    .objects.filter(username__startswith=f"bench-{os.getpid()}-")
                    .delete()
                )
            )
        if args.in_process_sim:
            sim = cleanup.enter_context(Simulator(SimConfig(latency_ms=LATENCY_MS, seed=5), tokens))
        else:
            # In its own process, as Todoist is a remote server: its request handling does not
            # compete with the engine for this process's GIL. It answers the same calls.
            log_dir = Path(tempfile.mkdtemp("-bench-sim"))
            stack = cleanup.enter_context(Stack(env=dict(os.environ), log_dir=log_dir))
            sim = stack.start_simulator(
                tokens=tokens.values(), latency_ms=LATENCY_MS, seed=5, verbose=False
            )
        bench = Bench(args, sim, tokens)
        for size in args.sizes:
            bench.size_series(size, "batched")
        for size in args.sizes:
            if size <= args.naive_max:
                bench.size_series(size, "naive")
        if args.memory:
            for size in args.sizes:
                bench.memory_series(size, "batched")
                if size <= args.naive_max:
                    bench.memory_series(size, "naive")
        bench.estimate_naive()
        if args.mixed:
            bench.mixed_series(min(args.sizes))
        if args.rate_limit:
            bench.rate_limit_series(args.rate_limit_size)
        if args.pacing:
            bench.pacing_series(PACING_SIZE)
        machine = machine_info()
        report = "# Sync benchmark\n\n" + render(bench, machine, started, argv)
    if bench.profile_text:
        print(bench.profile_text, file=sys.stderr)
    print(report)
    if args.markdown:
        Path(args.markdown).write_text(report)
    return 1 if any(not ok for *_, ok in targets(bench.results)) else 0


if __name__ == "__main__":
    raise SystemExit(main())
