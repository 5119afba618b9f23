"""HTTP server and in-process `Simulator` of the local Todoist API v1 simulator.

This is NOT Todoist. It is a small stand-in that speaks a subset of Todoist's API v1
(tasks and projects REST endpoints, /user, and /sync commands and incremental reads) on a
loopback address, so demos, end-to-end tests, fault soaks and benchmarks never touch the
real service. Faults (latency, 5xx, 429, lost answers, a per-account request window) and
Todoist's limits (see `config.WORST_CASE`) are switchable at runtime through
`Simulator.configure()` or `POST /__sim__/config`; `control` lists the control endpoints,
`cli` the command line.

Standard library only. Token values are never printed or logged; at most their last
4 characters appear, inside default account names.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import urlsplit

from todoist_sim.config import SimConfig
from todoist_sim.control import CONTROL_PREFIX, handle_control
from todoist_sim.oauth import OAuthServer
from todoist_sim.store import API_PREFIX, ApiError, Outcome, SimState, account_names

# The HTTP layer never reads more than this; `SimConfig.max_body_bytes` is the API's limit.
MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
BANNER_PREFIX = "todoist_sim: local Todoist API v1 SIMULATOR - this is NOT Todoist"


def is_loopback_host(host: str) -> bool:
    """True for addresses only this machine can reach (the default-safe binding)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        state: SimState,
        verbose: bool,
        log_stream: TextIO | None,
        oauth: OAuthServer | None = None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        self.oauth = oauth
        self.verbose = verbose
        self.log_stream = log_stream
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._connections_lock:
            if is_open:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        # Idle keep-alive threads would otherwise keep answering after stop().
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def log(self, line: str) -> None:
        if self.verbose and self.log_stream is not None:
            try:
                self.log_stream.write(line + "\n")
                self.log_stream.flush()
            except (OSError, ValueError):
                pass


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so requests.Session keeps connections alive; every answer has a length.
    protocol_version = "HTTP/1.1"
    server_version = "todoist-sim/1.0"
    sys_version = ""
    # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)
        self.server.state.connection_opened()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        # The base class would print every request to stderr; only verbose mode logs.
        self.server.log("todoist_sim: " + (format % args))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request is written by _handle instead

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _handle(self) -> None:
        started = time.monotonic()
        body = self._read_body()
        if body is None:
            return
        parts = urlsplit(self.path)
        path = parts.path
        state = self.server.state
        try:
            oauth = self.server.oauth
            if oauth is not None and oauth.handles(path):
                outcome = oauth.handle(self.command, path, parts.query, body)
            elif path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
                outcome = handle_control(self.server.state, self.command, path, body)
            elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                latency_ms = state.config.latency_ms
                if latency_ms > 0:
                    time.sleep(latency_ms / 1000.0)
                api_path = path[len(API_PREFIX) :] or "/"
                outcome = state.handle_api(self.command, api_path, parts.query, self.headers, body)
            else:
                message = f"No endpoint {path}; the API is under {API_PREFIX}"
                error = ApiError(404, "NOT_FOUND", 404, message)
                outcome = Outcome(404, _dumps(error.body()))
        except Exception:
            # A simulator bug: answer 500 rather than hang the client, and show the trace.
            traceback.print_exc(file=sys.stderr)
            state.record_internal_error()
            error = ApiError(500, "INTERNAL_SERVER_ERROR", 500, "Simulator internal error")
            outcome = Outcome(500, _dumps(error.body()))

        if outcome.drop:
            # Applied, but the client never hears back: close without a byte of answer.
            self.close_connection = True
            shown = "DROPPED"
        else:
            self._send(outcome)
            shown = str(outcome.status)
        elapsed_ms = (time.monotonic() - started) * 1000
        self.server.log(
            f"todoist_sim: {self.command} {path} -> {shown} {elapsed_ms:.1f}ms "
            f"account={outcome.account or '-'}"
        )

    def _read_body(self) -> bytes | None:
        encoding = self.headers.get("Transfer-Encoding")
        if encoding and encoding.lower() != "identity":
            self._refuse(411, "Length Required: send a Content-Length")
            return None
        raw_length = self.headers.get("Content-Length")
        if not raw_length:
            return b""
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError(raw_length)
        except ValueError:
            self._refuse(400, "Bad Content-Length")
            return None
        if length > MAX_BODY_BYTES:
            self._refuse(413, "Request body too large")
            return None
        return self.rfile.read(length)

    def _refuse(self, status: int, message: str) -> None:
        # The unread body would be parsed as the next request; close instead.
        self.close_connection = True
        tag = "REQUEST_TOO_LARGE" if status == 413 else "INVALID_REQUEST"
        error = ApiError(status, tag, status, message)
        self._send(Outcome(status, _dumps(error.body()), {"Connection": "close"}))

    def _send(self, outcome: Outcome) -> None:
        try:
            self.send_response(outcome.status)
            if outcome.status != 204:
                if "Content-Type" not in outcome.headers:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outcome.body)))
            for name, value in outcome.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if outcome.status != 204 and outcome.body:
                self.wfile.write(outcome.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class Simulator:
    """A local Todoist API v1 simulator (NOT Todoist) serving from a daemon thread.

    `tokens` is either {account name: token or [tokens]} or a list of tokens (accounts are
    then named "user-<last 4 chars>"). Each account has its own Inbox, projects, tasks and
    limits; all tokens of one account share them (Todoist counts limits per user), and
    `add_token()` gives an account another. `worst_case=True` applies `config.WORST_CASE`
    over `config`.
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        tokens: Mapping[str, str | Iterable[str]] | Iterable[str] = (),
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        allow_remote: bool = False,
        verbose: bool = False,
        log_stream: TextIO | None = None,
        worst_case: bool = False,
    ) -> None:
        if not is_loopback_host(host) and not allow_remote:
            raise ValueError(
                f"refusing to bind the simulator to non-loopback host {host!r} "
                "(pass allow_remote=True to really do that)"
            )
        self.host = host
        self._requested_port = port
        config = config or SimConfig()
        if worst_case:
            config = config.worst_case()
        self._state = SimState(config, account_names(tokens))
        self.oauth = OAuthServer(self._state)
        self._verbose = verbose
        self._log_stream = log_stream if log_stream is not None else sys.stderr
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    # ----- lifecycle ---------------------------------------------------------

    def start(self) -> Simulator:
        if self._server is not None:
            raise RuntimeError("simulator already started")
        server = _Server(
            (self.host, self._requested_port),
            self._state,
            self._verbose,
            self._log_stream,
            self.oauth,
        )
        self.oauth.webhooks.start()
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="todoist-sim",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        # Kept after stop() so a client can still build URLs (and see them refused).
        self._bound_port = int(server.server_address[1])
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        self.oauth.webhooks.stop()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----- addresses ---------------------------------------------------------

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("simulator not started")
        return self._bound_port

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL for clients, including /api/v1."""
        return self.root_url + API_PREFIX

    # ----- inspection and control --------------------------------------------

    @property
    def accounts(self) -> list[str]:
        return list(self._state.accounts)

    @property
    def config(self) -> SimConfig:
        return self._state.config

    def tasks(self, account_or_token: str) -> list[dict[str, Any]]:
        """All tasks of one account, including checked and deleted ones (copies)."""
        return self._state.all_tasks(account_or_token)

    def projects(self, account_or_token: str) -> list[dict[str, Any]]:
        """All projects of one account, the Inbox first, including deleted ones (copies)."""
        return self._state.all_projects(account_or_token)

    def inbox_id(self, account_or_token: str) -> str:
        return self._state.find_account(account_or_token).inbox_id

    def stats(self) -> dict[str, Any]:
        return self._state.snapshot_stats()

    def state(self) -> dict[str, Any]:
        return self._state.state()

    def configure(self, **changes: Any) -> SimConfig:
        """Change config fields at runtime; ValueError names an unknown or bad field."""
        return self._state.configure(**changes)

    def lose_next(
        self,
        count: int = 1,
        *,
        when: Callable[[list[dict[str, Any]]], bool] | None = None,
        applied: int | None = None,
    ) -> None:
        """Apply the next `count` mutating requests (those whose /sync commands `when` accepts),
        then drop their answers, as a connection lost after Todoist did the work. `applied`:
        only that many of a /sync request's first commands ran (a request cut off midway)."""
        self._state.plan_fault("lose", count, when, applied)

    def fail_next(
        self, count: int = 1, *, when: Callable[[list[dict[str, Any]]], bool] | None = None
    ) -> None:
        """Answer the next `count` requests (those whose /sync commands `when` accepts) with a
        5xx before anything is applied."""
        self._state.plan_fault("fail", count, when)

    def clear_faults(self) -> None:
        """Forget the faults planned by `lose_next` and `fail_next` that have not hit yet."""
        self._state.clear_planned_faults()

    def oauth_register(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_url: str,
        webhook_url: str | None = None,
    ) -> None:
        """Register the one OAuth app (`todoist_sim.oauth`): its credentials, its redirect URL
        and where its webhooks go (None: nowhere)."""
        self.oauth.register(
            client_id=client_id,
            client_secret=client_secret,
            redirect_url=redirect_url,
            webhook_url=webhook_url,
        )

    def webhooks_configure(self, **changes: Any) -> Any:
        """Change how webhooks travel (`todoist_sim.webhooks.WebhookConfig`)."""
        return self.oauth.webhooks.configure(**changes)

    def webhook_stats(self) -> dict[str, int]:
        return dict(self.oauth.webhooks.stats)

    def reset(self) -> None:
        """Forget all tasks, dedupe memory, limit windows and stats (accounts stay)."""
        self._state.reset()

    def add_token(self, account_or_token: str, token: str) -> None:
        """Let `token` open this account too, as a second (e.g. OAuth) token of the same person:
        same data, same request and full-sync windows. KeyError: no such account; ValueError:
        the token is empty or opens an account already."""
        self._state.add_token(account_or_token, token)

    # ----- acting as a person in the Todoist app -------------------------------

    def person_task(
        self, account_or_token: str, task_id: str, action: str = "update", **fields: Any
    ) -> dict[str, Any]:
        """Change one task as a person would in Todoist; answer the task afterwards.

        action: "update" (content, description, priority, due, labels), "complete" (ticking it
        in the app: a recurring task moves to its next date and stays open), "complete_forever"
        (completes even a recurring task), "reopen", "delete", or "move" (project_id=...). `due`:
        a date ("2026-12-07", "2026-12-07T10:00:00", "2026-12-07T09:00:00Z"), a rule string
        ("every day", "every 2 weeks", "every month at 10:00"), a due object ({"date",
        "string"?, "timezone"?}; a rule in "string" makes it recurring) or None. Raises
        `ApiError` (404 unknown task/project, 400 bad field, 403 full project) or KeyError
        (unknown account).
        """
        return self._state.person_task(account_or_token, task_id, action, **fields)

    def person_add_task(
        self, account_or_token: str, content: str, project_id: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Add a task as a person would (default: the Inbox)."""
        return self._state.person_add_task(account_or_token, content, project_id, **fields)

    def person_add_project(self, account_or_token: str, name: str, **fields: Any) -> dict[str, Any]:
        """Create a project as a person would."""
        return self._state.person_add_project(account_or_token, name, **fields)

    def person_archive_project(self, account_or_token: str, project_id: str) -> dict[str, Any]:
        """Archive a project as a person would: it and its tasks leave the active lists and full
        reads, and adds or moves into it fail as into a deleted project."""
        return self._state.person_archive_project(account_or_token, project_id, True)

    def person_unarchive_project(self, account_or_token: str, project_id: str) -> dict[str, Any]:
        """Unarchive a project as a person would: it and its tasks are active again."""
        return self._state.person_archive_project(account_or_token, project_id, False)

    def person_delete_project(self, account_or_token: str, project_id: str) -> dict[str, Any]:
        """Delete a project as a person would; its tasks are deleted with it."""
        return self._state.person_delete_project(account_or_token, project_id)
