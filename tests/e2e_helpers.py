"""Helpers of the end-to-end tests (and the reliability suite): a whole stack in real processes.

Starting, watching and stopping the processes, the simulator's controls and the planner API
client are the process harness's (`scripts/harness`), shared with `make demo` and `make bench`,
and so is `throwaway_database` (a database the subprocesses can see: pytest-django's own is no
use, an in-memory SQLite database is invisible to another process and a test transaction hides
rows from it). What is test-only is here:

- `orm_alias(database_url)`: a Django connection alias to that database in the test process, so
  assertions can use the ORM (`Task.objects.using(alias)`); wrap its use in
  `django_db_blocker.unblock()`.
- `migrated_stack(tmp_path, ...)`: that database migrated, and a `Stack` on it with the simulator
  and the web process ready, as a `LocalStack`; `reliability_stack` builds on it too.
- `e2e_stack(tmp_path)`: that, plus a seeded demo user, a qcluster worker and runserver, all
  ready; yields an `E2EStack`; stops everything on exit.

    def test_x(tmp_path, django_db_blocker):
        with e2e_stack(tmp_path, tasks=30) as s:
            run = s.api.wait_for_run(s.api.trigger_sync(), stack=s.stack)
            s.sim.configure(error_rate=0.2)   # a fault soak would switch faults on
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.harness import (
    Api,
    Proc,
    SimProc,
    Stack,
    api_token_from_seed,
    run_manage,
    stack_env,
)
from scripts.harness.database import throwaway_database


@contextlib.contextmanager
def orm_alias(database_url: str, alias: str = "e2e") -> Iterator[str]:
    """A connection alias to `database_url` for the test process's ORM; removed on exit."""
    import environ
    from django.db import connections

    parsed = environ.Env.db_url_config(database_url)
    settings = copy.deepcopy(connections.settings["default"])
    for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT"):
        settings[key] = parsed.get(key, "")
    if settings["ENGINE"] != connections.settings["default"]["ENGINE"]:
        settings["OPTIONS"] = parsed.get("OPTIONS", {})
    connections.settings[alias] = settings
    try:
        yield alias
    finally:
        with contextlib.suppress(Exception):
            connections[alias].close()
        with contextlib.suppress(Exception):
            del connections[alias]
        connections.settings.pop(alias, None)


@dataclass
class LocalStack:
    """A stack on a migrated temporary database: the simulator and the web process, ready."""

    stack: Stack
    sim: SimProc
    web: Proc
    database_url: str

    def parts(self) -> dict[str, Any]:
        """Its fields, to build a subclass with more (`E2EStack(**local.parts(), ...)`)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(LocalStack)}


@contextlib.contextmanager
def migrated_stack(
    tmp_path: Path,
    *,
    todoist_token: str,
    shared_token_users: str,
    sim_tokens: Iterable[str] = (),
    latency_ms: float = 0,
    extra_env: dict[str, str] | None = None,
) -> Iterator[LocalStack]:
    """A migrated temporary database, and a `Stack` on it (logs in `tmp_path/logs`) with the web
    process and a simulator that accepts `todoist_token` (the global TODOIST_API_TOKEN, which
    syncs the usernames in `shared_token_users`) and `sim_tokens`."""
    with throwaway_database(tmp_path) as database_url:
        # The qcluster heartbeats in `tmp_path` too, not in var/, which stacks on other pytest
        # workers share.
        extra = {"Q_STATUS_DIR": str(tmp_path / "qcluster-status"), **(extra_env or {})}
        env = stack_env(
            database_url=database_url,
            todoist_token=todoist_token,
            shared_token_users=shared_token_users,
            extra=extra,
        )
        run_manage(["migrate", "--noinput", "--verbosity", "0"], env=env, timeout=300)
        with Stack(env=env, log_dir=tmp_path / "logs") as stack:
            sim = stack.start_simulator(tokens=[todoist_token, *sim_tokens], latency_ms=latency_ms)
            web = stack.start_web()
            stack.wait_ready([web], timeout=60)
            yield LocalStack(stack=stack, sim=sim, web=web, database_url=database_url)


@dataclass
class E2EStack(LocalStack):
    api: Api
    worker: Proc
    todoist_token: str  # the simulator account's token (what the sync sends as Bearer)
    api_token: str  # the demo user's planner API token


@contextlib.contextmanager
def e2e_stack(
    tmp_path: Path,
    *,
    tasks: int = 30,
    latency_ms: float = 0,
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 60.0,
) -> Iterator[E2EStack]:
    """A migrated temporary database with a seeded demo user, and the three processes."""
    todoist_token = "e2e-todoist-" + secrets.token_hex(8)
    with migrated_stack(
        tmp_path,
        todoist_token=todoist_token,
        shared_token_users="demo",  # seed_demo's user, on the shared token
        latency_ms=latency_ms,
        extra_env=extra_env,
    ) as local:
        seeded = run_manage(["seed_demo", "--tasks", str(tasks)], env=local.stack.env)
        api_token = api_token_from_seed(seeded.stdout)
        worker = local.stack.start_qcluster()
        local.stack.wait_ready([worker], timeout=ready_timeout)
        yield E2EStack(
            **local.parts(),
            api=Api(local.web.url, api_token),
            worker=worker,
            todoist_token=todoist_token,
            api_token=api_token,
        )
