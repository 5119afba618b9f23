"""Start, watch and stop the processes of a local stack: simulator, qcluster worker, web server.

Shared by `make demo` (scripts/demo.py) and the end-to-end tests (tests/e2e_helpers.py). Standard
library plus `requests`; no Django import, so a caller may or may not have Django set up.

Every process is started by us, in its own session (so a worker's children can be stopped with
it), with stdout and stderr in a log file whose tail is shown when something goes wrong. The
simulator listens on loopback only; the web server binds 127.0.0.1.

    env = stack_env(database_url="sqlite:///var/demo/demo.sqlite3", todoist_token=TOKEN)
    run_manage(["migrate", "--noinput"], env=env)
    with Stack(env=env, log_dir=Path("var/demo/logs")) as stack:
        sim = stack.start_simulator(tokens=[TOKEN])
        stack.wait_ready([sim])
        stack.env["TODOIST_API_URL"] = sim.url
        stack.start_qcluster()
        web = stack.start_web()
        stack.wait_ready()
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
SIM_BANNER = re.compile(r"serving (http://\S+/api/v1) for accounts")
QCLUSTER_READY = re.compile(r"Q Cluster \S+ .*running\.")
# Variables a developer's shell may hold that must not leak into the stack (nor any TODOIST_*
# one): it runs on its own database, its own broker, the sync's defaults, and never the real
# Todoist unless asked.
_SCRUBBED = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")


class StackError(RuntimeError):
    """A process did not start, died, or did not get ready in time; the text says which."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on `host` right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stack_env(
    *,
    database_url: str,
    todoist_token: str,
    todoist_url: str = "http://127.0.0.1:9/api/v1",
    secret_key: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of the stack's processes: the real settings, DEBUG on, our database,
    the ORM broker on it, jobs run by the worker (not inline), no sync on change.

    `todoist_url` defaults to a closed loopback port until the simulator's URL is known (the
    token is needed earlier: the system checks before `migrate` want a token source)."""
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
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class Proc:
    """One process we started, its log file and how to tell it is ready."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    ready: Callable[[], bool] = field(default=lambda: True)
    url: str = ""

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (the qcluster stops its workers on it), then SIGKILL of the whole session."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        # Workers left behind by a parent that died first share its session id (= its pid).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        return self.popen.returncode


class Stack:
    """The processes of one demo or test run; stops all of them on exit, also on Ctrl-C."""

    def __init__(self, *, env: dict[str, str], log_dir: Path, python: str = sys.executable):
        self.env = env
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.python = python
        self.procs: list[Proc] = []

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    # -- starting -------------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str], *, env: Mapping[str, str] | None = None) -> Proc:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [self.python, *args],
                cwd=REPO_ROOT,
                env=dict(env if env is not None else self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in the terminal reaches only us, and we stop it in
                # order; a worker's children can be killed with it.
                start_new_session=True,
            )
        proc = Proc(name=name, popen=popen, log_path=log_path)
        self.procs.append(proc)
        return proc

    def start_simulator(
        self, *, tokens: Iterable[str], latency_ms: float = 0, verbose: bool = True
    ) -> Proc:
        """`python -m todoist_sim` on a free loopback port; `proc.url` is its /api/v1 base URL.

        Tokens go through the environment, never the command line (`ps` shows that).
        """
        args = ["-m", "todoist_sim", "--host", LOOPBACK, "--port", "0"]
        args += ["--latency-ms", str(latency_ms)]
        if verbose:
            args.append("--verbose")  # one log line per request: the demo shows them
        env = {**self.env, "TODOIST_SIM_TOKENS": ",".join(tokens)}
        proc = self.spawn("simulator", args, env=env)

        def ready() -> bool:
            match = SIM_BANNER.search(proc.log_text())
            if match:
                proc.url = match.group(1)
            return bool(match)

        proc.ready = ready
        return proc

    def start_qcluster(self) -> Proc:
        proc = self.spawn("qcluster", ["manage.py", "qcluster"])
        proc.ready = lambda: bool(QCLUSTER_READY.search(proc.log_text()))
        return proc

    def start_web(self, port: int | None = None) -> Proc:
        """`manage.py runserver` (no reloader) on 127.0.0.1; `proc.url` is its root URL."""
        port = port or free_port()
        proc = self.spawn("web", ["manage.py", "runserver", f"{LOOPBACK}:{port}", "--noreload"])
        proc.url = f"http://{LOOPBACK}:{port}"

        def ready() -> bool:
            try:
                # Any answer will do (401 without a token): the server is accepting requests.
                requests.get(proc.url + "/v1/tasks", timeout=1)
            except requests.RequestException:
                return False
            return True

        proc.ready = ready
        return proc

    # -- waiting --------------------------------------------------------------------------------

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
        for proc in self.procs:
            if not proc.alive:
                raise StackError(
                    f"{proc.name} exited with status {proc.popen.returncode}\n{self.tails([proc])}"
                )

    def tails(self, procs: Iterable[Proc] | None = None, lines: int = 30) -> str:
        out = []
        for proc in procs if procs is not None else self.procs:
            out.append(f"--- last lines of {proc.name} ({proc.log_path}) ---")
            out.append(proc.tail(lines) or "(empty)")
        return "\n".join(out)

    # -- stopping -------------------------------------------------------------------------------

    def stop_all(self) -> dict[str, int | None]:
        """Web first (no new jobs), then the worker, then the simulator; answers exit codes."""
        codes = {}
        order = {"web": 0, "qcluster": 1, "simulator": 2}
        for proc in sorted(self.procs, key=lambda p: order.get(p.name, 3)):
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


class Api:
    """The planner's HTTP API as the bot uses it (token auth), plus the simulator's controls."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.timeout = timeout

    def request(self, method: str, path: str, expect: Iterable[int] = (200,), **kw: Any) -> Any:
        response = self.session.request(
            method, self.base_url + path, timeout=self.timeout, allow_redirects=False, **kw
        )
        if response.status_code not in tuple(expect):
            raise StackError(
                f"{method} {path} answered {response.status_code}: {response.text[:500]}"
            )
        return response.json() if response.content else None

    def trigger_sync(self) -> str:
        return self.request("POST", "/v1/sync/todoist", expect=(202,), json={})["job_id"]

    def sync_status(self, job_id: str | None = None) -> dict[str, Any]:
        params = {"job_id": job_id} if job_id else None
        return self.request("GET", "/v1/sync/todoist/status", params=params)

    def tasks(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self.request("GET", "/v1/tasks", params={"page": page})
            out += data["results"]
            if not data.get("next"):
                return out
            page += 1

    def patch_task(self, task_id: int, **fields: Any) -> dict[str, Any]:
        return self.request("PATCH", f"/v1/tasks/{task_id}", json=fields)

    def wait_for_run(
        self,
        job_id: str,
        *,
        timeout: float = 120.0,
        on_poll: Callable[[dict[str, Any], float], None] | None = None,
        stack: Stack | None = None,
    ) -> dict[str, Any]:
        """Poll the run until it finished; StackError if the time runs out or a process died."""
        started = time.monotonic()
        while True:
            run = self.sync_status(job_id)
            elapsed = time.monotonic() - started
            if on_poll:
                on_poll(run, elapsed)
            if run["state"] in ("succeeded", "failed", "deferred"):
                return run
            if stack is not None:
                stack.check_alive()
            if elapsed > timeout:
                raise StackError(
                    f"sync {job_id} still {run['state']} after {timeout:.0f} s"
                    + (f"\n{stack.tails()}" if stack else "")
                )
            time.sleep(0.2)


def sim_get(sim_url: str, what: str) -> dict[str, Any]:
    """GET /__sim__/<what> (state, stats, config) of a simulator at its /api/v1 URL."""
    root = sim_url.removesuffix("/api/v1")
    response = requests.get(f"{root}/__sim__/{what}", timeout=10)
    response.raise_for_status()
    return response.json()


def sim_configure(sim_url: str, **changes: Any) -> dict[str, Any]:
    """POST /__sim__/config: switch faults of a running simulator (e.g. error_rate=0.2)."""
    root = sim_url.removesuffix("/api/v1")
    response = requests.post(f"{root}/__sim__/config", json=changes, timeout=10)
    response.raise_for_status()
    return response.json()


def sim_account_tasks(sim_url: str, token: str) -> list[dict[str, Any]]:
    """All tasks (checked and deleted ones too) of the account of `token` (named by the
    simulator `user-<last 4 characters>` when its tokens come from TODOIST_SIM_TOKENS)."""
    return sim_get(sim_url, "state")["tasks"][f"user-{token[-4:]}"]
