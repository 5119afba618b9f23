"""Start, watch and stop the processes of a local stack, and run one-shot `manage.py` commands."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from scripts.harness.process import (
    LOOPBACK,
    REPO_ROOT,
    Proc,
    StackError,
    WebProc,
    WorkerProc,
    free_port,
)
from scripts.harness.simulator import SimProc, sim_tokens_env

P = TypeVar("P", bound=Proc)
# Variables a developer's shell may hold that must not leak into the stack (nor any TODOIST_*
# one): it runs on its own database, its own broker, the sync's defaults, and never the real
# Todoist unless asked.
_SCRUBBED = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")


def stack_env(
    *,
    database_url: str,
    todoist_token: str,
    shared_token_users: str = "",
    todoist_url: str = "http://127.0.0.1:9/api/v1",
    secret_key: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of the stack's processes: the real settings, DEBUG on, our database,
    the ORM broker on it, jobs run by the worker (not inline), no sync on change.

    `todoist_token` is the shared TODOIST_API_TOKEN, which syncs nobody but the usernames in
    `shared_token_users` (comma-separated, or "*"): the caller opts its users in, as an
    operator would. `todoist_url` defaults to a closed loopback port until the simulator's URL
    is known (the token is needed earlier: the system checks before `migrate` want a token
    source)."""
    env = {
        k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith("TODOIST_")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "true",
            "SECRET_KEY": secret_key or "local-stack-only-" + secrets.token_hex(24),
            "DATABASE_URL": database_url,
            # An empty REDIS_URL: the ORM broker on DATABASE_URL, whatever a .env file says.
            "REDIS_URL": "",
            "Q_SYNC": "false",
            "Q_WORKERS": "1",
            # The qcluster prints its "running" line at INFO; the readiness check waits for it.
            "Q_LOG_LEVEL": "INFO",
            "TODOIST_SYNC_ON_CHANGE": "false",
            "TODOIST_USE_BATCH": "true",
            "TODOIST_API_URL": todoist_url,
            "TODOIST_API_TOKEN": todoist_token,
            "TODOIST_SHARED_TOKEN_USERS": shared_token_users,
            "PYTHONUNBUFFERED": "1",
            # The demo, the bench and the soaks drive the API much faster than a bot: the
            # throttles (tested on their own) would only get in their way. Empty: off.
            "API_THROTTLE_ANON": "",
            "API_THROTTLE_TASK_WRITES": "",
            "API_THROTTLE_SYNC_TRIGGERS": "",
            "API_THROTTLE_TOKEN_CHECKS": "",
        }
    )
    env.update(extra or {})
    return env


class Stack:
    """The processes of one demo, bench or test run; stops all of them on exit, also on Ctrl-C.

    Every process runs in its own session (Ctrl-C in the terminal reaches only us, and a worker's
    children can be stopped with it), with stdout and stderr in `<log_dir>/<name>.log`.
    """

    # Web first (no new jobs), then workers and commands, the simulator they talk to last.
    stop_order = {"web": 0, "qcluster": 1, "command": 1, "simulator": 2}

    def __init__(self, *, env: dict[str, str], log_dir: Path, python: str = sys.executable):
        self.env = env
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.python = python
        self.procs: list[Proc] = []

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    # -- starting -------------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str], *, env: Mapping[str, str] | None = None) -> Proc:
        """A one-shot command, e.g. `["manage.py", "sync_todoist", "--user", "demo"]`."""
        return self._launch(Proc, name, args, env)

    def start_simulator(
        self,
        *,
        tokens: Iterable[str],
        latency_ms: float = 0,
        seed: int | None = None,
        verbose: bool = True,
        via_manage: bool = False,
        timeout: float = 30.0,
    ) -> SimProc:
        """The simulator on a free loopback port, once it serves; the processes started after it
        use it (TODOIST_API_URL). `via_manage` runs it as `manage.py todoist_simulator`."""
        tokens = list(tokens)
        program = ["manage.py", "todoist_simulator"] if via_manage else ["-m", "todoist_sim"]
        args = [*program, "--host", LOOPBACK, "--port", "0", "--latency-ms", str(latency_ms)]
        if seed is not None:
            args += ["--seed", str(seed)]
        if verbose:
            args.append("--verbose")  # one log line per request: the demo shows them
        sim = self._launch(SimProc, "simulator", args, {**self.env, **sim_tokens_env(tokens)})
        sim.tokens = tokens
        self.wait_ready([sim], timeout=timeout)
        self.env["TODOIST_API_URL"] = sim.url
        return sim

    def start_qcluster(
        self, *, name: str = "qcluster", env: Mapping[str, str] | None = None
    ) -> Proc:
        """`manage.py qcluster`, with `env` over the stack's; wait for it with `wait_ready`."""
        env = {**self.env, **(env or {})}
        return self._launch(WorkerProc, name, ["manage.py", "qcluster"], env)

    def start_web(self, port: int | None = None) -> Proc:
        """`manage.py runserver` (no reloader) on 127.0.0.1; `proc.url` is its root URL."""
        port = port or free_port()
        args = ["manage.py", "runserver", f"{LOOPBACK}:{port}", "--noreload"]
        web = self._launch(WebProc, "web", args, None)
        web.url = f"http://{LOOPBACK}:{port}"
        return web

    def start_gunicorn(
        self,
        port: int | None = None,
        *,
        workers: int = 2,
        name: str = "gunicorn",
        env: Mapping[str, str] | None = None,
    ) -> Proc:
        """`gunicorn config.wsgi` (the README's production web process) on 127.0.0.1, from the
        interpreter's own bin directory (`.venv/bin/gunicorn`), with `env` over the stack's;
        `proc.url` is its root URL. Wait for it with `wait_ready`. Gunicorn's control socket is
        off: every gunicorn would put its own at the same path, ~/.gunicorn/gunicorn.ctl."""
        gunicorn = Path(self.python).parent / "gunicorn"
        if not gunicorn.is_file():
            raise StackError(f"{gunicorn} not found: install requirements/base.txt")
        port = port or free_port()
        args = ["config.wsgi", "--bind", f"{LOOPBACK}:{port}", "--workers", str(workers)]
        args.append("--no-control-socket")
        env = {**self.env, **(env or {})}
        web = self._launch(WebProc, name, args, env, program=[str(gunicorn)])
        web.url = f"http://{LOOPBACK}:{port}"
        return web

    def _launch(
        self,
        proc_class: type[P],
        name: str,
        args: list[str],
        env: Mapping[str, str] | None,
        *,
        program: list[str] | None = None,
    ) -> P:
        """Start `program` (default: this interpreter) with `args`."""
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [*(program or [self.python]), *args],
                cwd=REPO_ROOT,
                env=dict(env if env is not None else self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = proc_class(name, popen, log_path)
        self.procs.append(proc)
        return proc

    # -- watching -------------------------------------------------------------------------------

    def wait_ready(self, procs: Iterable[Proc] | None = None, *, timeout: float = 60.0) -> None:
        """Poll until every process is ready; StackError (with log tails) if one dies or the
        time runs out."""
        waiting = list(procs if procs is not None else self.procs)
        deadline = time.monotonic() + timeout
        while waiting:
            for proc in list(waiting):
                if not proc.alive:
                    raise StackError(
                        f"{proc.name} exited with status {proc.popen.returncode} before it was "
                        f"ready\n{self.tails([proc])}"
                    )
                if proc.ready():
                    waiting.remove(proc)
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(p.name for p in waiting)
                raise StackError(f"not ready after {timeout:.0f} s: {names}\n{self.tails(waiting)}")
            time.sleep(0.1)

    def check_alive(self) -> None:
        """StackError if a server or worker died that we did not stop, or no worker is left."""
        for proc in self.procs:
            if proc.role != "command" and not proc.stopped and not proc.alive:
                raise StackError(
                    f"{proc.name} exited with status {proc.popen.returncode}\n{self.tails([proc])}"
                )
        workers = [proc for proc in self.procs if proc.role == "qcluster"]
        if workers and not any(proc.alive for proc in workers):
            raise StackError("no worker is running")

    def tails(self, procs: Iterable[Proc] | None = None, lines: int = 30) -> str:
        out = []
        for proc in procs if procs is not None else self.procs:
            out.append(f"--- last lines of {proc.name} ({proc.log_path}) ---")
            out.append(proc.tail(lines) or "(empty)")
        return "\n".join(out)

    def log_texts(self) -> dict[str, str]:
        """Every log file of the stack by file name, those of stopped and killed processes too."""
        return {
            path.name: path.read_text(errors="replace")
            for path in sorted(self.log_dir.glob("*.log"))
        }

    # -- stopping -------------------------------------------------------------------------------

    def stop_all(self) -> dict[str, int | None]:
        """Stops every process in `stop_order`; answers their exit codes by name."""
        codes = {}
        for proc in sorted(self.procs, key=lambda p: self.stop_order.get(p.role, 1)):
            codes[proc.name] = proc.stop()
        return codes


def run_manage(
    args: list[str], *, env: Mapping[str, str], timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """`python manage.py ARGS` to completion; StackError with its output if it fails."""
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"manage.py {' '.join(args)} did not finish in {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise StackError(
            f"manage.py {' '.join(args)} failed with status {done.returncode}\n"
            f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done


def api_token_from_seed(output: str) -> str:
    """The token `manage.py seed_demo` prints on its last line (`API token: <key>`)."""
    match = re.search(r"API token: (\S+)", output)
    if not match:
        raise StackError(f"seed_demo printed no API token:\n{output[-2000:]}")
    return match.group(1)
