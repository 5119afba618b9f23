"""One process the harness started: its log file, whether it is ready, how to stop or kill it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
QCLUSTER_READY = re.compile(r"Q Cluster \S+ .*running\.")


class StackError(RuntimeError):
    """A process did not start, died, or did not get ready in time; the text says which."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on `host` right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Proc:
    """A process we started, in its own session, with stdout and stderr in `log_path`.

    A plain `Proc` is a one-shot command (`manage.py sync_todoist`), ready at once; subclasses
    say what "ready" means for a server. `role` orders the stop and tells `Stack.check_alive`
    which ends are failures.
    """

    role = "command"

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self.url = ""
        # Stopped or killed by us: its end is no failure.
        self.stopped = False

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def ready(self) -> bool:
        return True

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (the qcluster stops its workers on it), then SIGKILL of the whole session;
        answers the exit status."""
        self.stopped = True
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_session()
                self.popen.wait(5)
        # Workers left behind by a parent that died first share its session id (= its pid).
        self._kill_session()
        return self.popen.returncode

    def kill(self) -> int | None:
        """SIGKILL the whole session at once, as a crash would (the qcluster and its worker
        processes); answers the exit status."""
        self.stopped = True
        self._kill_session()
        self.popen.wait(10)
        return self.popen.returncode

    def _kill_session(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)


class WorkerProc(Proc):
    """`manage.py qcluster`: ready once it logs its "running" line (at INFO)."""

    role = "qcluster"

    def ready(self) -> bool:
        return bool(QCLUSTER_READY.search(self.log_text()))


class WebProc(Proc):
    """The web process (`manage.py runserver`, or gunicorn): ready once it answers HTTP on
    `url`."""

    role = "web"

    def ready(self) -> bool:
        try:
            # Any answer will do (401 without a token): the server is accepting requests.
            requests.get(self.url + "/v1/tasks", timeout=1)
        except requests.RequestException:
            return False
        return True
