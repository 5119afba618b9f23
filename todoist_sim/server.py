"""HTTP server, in-process `Simulator` and CLI of the local Todoist API v1 simulator.

This is NOT Todoist. It is a small stand-in that speaks a subset of Todoist's API v1
(tasks REST endpoints, /user and /sync item commands) on a loopback address, so demos,
end-to-end tests, fault soaks and benchmarks never touch the real service. Faults
(latency, 5xx, 429, lost answers, a per-token request window) are switchable at
runtime through `Simulator.configure()` or `POST /__sim__/config`.

Standard library only. Token values are never printed or logged; at most their last
4 characters appear, inside default account names.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import urlsplit

from todoist_sim.config import SimConfig
from todoist_sim.store import (
    API_PREFIX,
    ApiError,
    Outcome,
    SimState,
    account_names,
    invalid,
)

CONTROL_PREFIX = "/__sim__"
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
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
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
            if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
                outcome = self._control(path, body)
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
        error = ApiError(status, "INVALID_REQUEST", status, message)
        self._send(Outcome(status, _dumps(error.body()), {"Connection": "close"}))

    def _send(self, outcome: Outcome) -> None:
        try:
            self.send_response(outcome.status)
            if outcome.status != 204:
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outcome.body)))
            for name, value in outcome.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if outcome.status != 204 and outcome.body:
                self.wfile.write(outcome.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _control(self, path: str, body: bytes) -> Outcome:
        state = self.server.state
        method = self.command
        if path == "/__sim__/state" and method == "GET":
            return Outcome(200, _dumps(state.state()))
        if path == "/__sim__/stats" and method == "GET":
            return Outcome(200, _dumps(state.snapshot_stats()))
        if path == "/__sim__/config" and method == "GET":
            return Outcome(200, _dumps(state.config.as_dict()))
        if path == "/__sim__/config" and method == "POST":
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object of config fields")
                config = state.configure(**changes)
            except (ValueError, TypeError) as exc:
                return Outcome(400, _dumps(invalid("config", str(exc)).body()))
            return Outcome(200, _dumps(config.as_dict()))
        if path == "/__sim__/reset" and method == "POST":
            state.reset()
            return Outcome(200, _dumps({"reset": True}))
        error = ApiError(404, "NOT_FOUND", 404, f"No control endpoint {method} {path}")
        return Outcome(404, _dumps(error.body()))


class Simulator:
    """A local Todoist API v1 simulator (NOT Todoist) serving from a daemon thread.

    `tokens` is either {account name: token} or a list of tokens (accounts are then
    named "user-<last 4 chars>"). Each token is its own account with its own tasks.
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        tokens: Mapping[str, str] | Iterable[str] = (),
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        allow_remote: bool = False,
        verbose: bool = False,
        log_stream: TextIO | None = None,
    ) -> None:
        if not is_loopback_host(host) and not allow_remote:
            raise ValueError(
                f"refusing to bind the simulator to non-loopback host {host!r} "
                "(pass allow_remote=True to really do that)"
            )
        self.host = host
        self._requested_port = port
        self._state = SimState(config or SimConfig(), account_names(tokens))
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
            (self.host, self._requested_port), self._state, self._verbose, self._log_stream
        )
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

    def stats(self) -> dict[str, Any]:
        return self._state.snapshot_stats()

    def state(self) -> dict[str, Any]:
        return self._state.state()

    def configure(self, **changes: Any) -> SimConfig:
        """Change config fields at runtime; ValueError names an unknown or bad field."""
        return self._state.configure(**changes)

    def reset(self) -> None:
        """Forget all tasks, dedupe memory, limit windows and stats (accounts stay)."""
        self._state.reset()


# ----- CLI -------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m todoist_sim",
        description=(
            "Local Todoist API v1 simulator for demos and tests. It is NOT Todoist: "
            "nothing is sent to Todoist and all data lives in memory."
        ),
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="default: %(default)s")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help="accepted bearer token (repeatable); its account is named user-<last 4 chars>",
    )
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="NAME=TOKEN",
        help="accepted token with an explicit account name (repeatable)",
    )
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--error-status", type=int, default=503)
    parser.add_argument("--lost-answer-rate", type=float, default=0.0)
    parser.add_argument("--rate-limit-429-rate", type=float, default=0.0)
    parser.add_argument("--retry-after-seconds", type=int, default=1)
    parser.add_argument("--request-limit", type=int, default=None)
    parser.add_argument("--limit-window-seconds", type=float, default=60.0)
    parser.add_argument(
        "--no-replay-temp-id-mapping",
        action="store_true",
        help="omit temp_id_mapping when a /sync item_add uuid is replayed",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--verbose", action="store_true", help="log one line per request")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding to a non-loopback address (off by default for safety)",
    )
    return parser


def _cli_tokens(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    plain = list(args.token)
    # Tokens in the environment stay out of `ps` output.
    plain += [t.strip() for t in os.environ.get("TODOIST_SIM_TOKENS", "").split(",") if t.strip()]
    named: dict[str, str] = {}
    for item in args.account:
        name, sep, token = item.partition("=")
        if not sep or not name or not token:
            parser.error("--account expects NAME=TOKEN")
        named[name] = token
    try:
        merged = account_names(plain) if plain else {}
        for name, token in named.items():
            if name in merged:
                parser.error(f"account name {name!r} given twice")
            merged[name] = token
        return account_names(merged)
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until SIGINT/SIGTERM; answer the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not is_loopback_host(args.host) and not args.allow_remote:
        parser.error(
            f"refusing to listen on non-loopback host {args.host!r}; "
            "pass --allow-remote if you really mean it"
        )
    tokens = _cli_tokens(parser, args)
    try:
        config = SimConfig(
            latency_ms=args.latency_ms,
            error_rate=args.error_rate,
            error_status=args.error_status,
            lost_answer_rate=args.lost_answer_rate,
            rate_limit_429_rate=args.rate_limit_429_rate,
            retry_after_seconds=args.retry_after_seconds,
            request_limit=args.request_limit,
            limit_window_seconds=args.limit_window_seconds,
            replay_temp_id_mapping=not args.no_replay_temp_id_mapping,
            seed=args.seed,
        )
        config.validate()
    except ValueError as exc:
        parser.error(str(exc))

    sim = Simulator(
        config,
        tokens,
        args.host,
        args.port,
        allow_remote=args.allow_remote,
        verbose=args.verbose,
        log_stream=sys.stderr,
    )
    try:
        sim.start()
    except OSError as exc:
        print(f"todoist_sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()
    previous: dict[int, Any] = {}
    # Signal handlers can only be installed from the main thread (a management command
    # normally runs there; elsewhere Ctrl-C still arrives as KeyboardInterrupt).
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    print(
        f"{BANNER_PREFIX}; serving {sim.url} for accounts: {', '.join(sim.accounts)}",
        flush=True,
    )
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
