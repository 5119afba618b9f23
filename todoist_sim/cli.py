"""Command line of the local Todoist API simulator: `python -m todoist_sim` (NOT Todoist)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

from todoist_sim.config import WORST_CASE, SimConfig
from todoist_sim.server import (
    BANNER_PREFIX,
    DEFAULT_HOST,
    DEFAULT_PORT,
    Simulator,
    is_loopback_host,
)
from todoist_sim.store import account_names


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
        help="accepted token with an explicit account name (repeatable; a NAME given again "
        "gets another token of the same account, sharing its data and limits)",
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
        "--full-sync-limit",
        type=int,
        default=None,
        metavar="N",
        help="full syncs per account per window (default: Todoist's 100; 0: no limit)",
    )
    parser.add_argument(
        "--full-sync-window-seconds",
        type=float,
        default=None,
        metavar="S",
        help="the full-sync window (default: Todoist's 900 seconds)",
    )
    parser.add_argument(
        "--replay-temp-id-mapping",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="answer temp_id_mapping again when a /sync item_add uuid is replayed "
        "(undocumented for Todoist; default: no, the worst case)",
    )
    parser.add_argument(
        "--request-id-dedupe",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="dedupe REST task calls on X-Request-Id (default: no, as Todoist API v1 ignores it)",
    )
    parser.add_argument(
        "--project-task-cap",
        type=int,
        default=None,
        metavar="N",
        help="active tasks one project may hold (default: Todoist's 300; 0: no cap)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=None,
        metavar="N",
        help="longest request body accepted (default: Todoist's 1048576; 0: no limit)",
    )
    parser.add_argument(
        "--worst-case",
        action="store_true",
        help="Todoist's real limits and the worst plausible undocumented behaviour: "
        + ", ".join(f"{k}={v}" for k, v in WORST_CASE.items())
        + " (explicit flags above still win)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--verbose", action="store_true", help="log one line per request")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding to a non-loopback address (off by default for safety)",
    )
    return parser


def _cli_tokens(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> dict[str, tuple[str, ...]]:
    plain = list(args.token)
    # Tokens in the environment stay out of `ps` output.
    plain += [t.strip() for t in os.environ.get("TODOIST_SIM_TOKENS", "").split(",") if t.strip()]
    named: dict[str, tuple[str, ...]] = {}
    for item in args.account:
        name, sep, token = item.partition("=")
        if not sep or not name or not token:
            parser.error("--account expects NAME=TOKEN")
        named[name] = (*named.get(name, ()), token)
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


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The SimConfig the command line asks for; ValueError names a bad field."""
    fields: dict[str, Any] = dict(WORST_CASE) if args.worst_case else {}
    # Explicit flags win over --worst-case.
    if args.replay_temp_id_mapping is not None:
        fields["replay_temp_id_mapping"] = args.replay_temp_id_mapping
    if args.request_id_dedupe is not None:
        fields["request_id_dedupe"] = args.request_id_dedupe
    if args.project_task_cap is not None:
        fields["project_task_cap"] = args.project_task_cap or None
    if args.max_body_bytes is not None:
        fields["max_body_bytes"] = args.max_body_bytes or None
    if args.full_sync_limit is not None:
        fields["full_sync_limit"] = args.full_sync_limit or None
    if args.full_sync_window_seconds is not None:
        fields["full_sync_window_seconds"] = args.full_sync_window_seconds
    return SimConfig(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        error_status=args.error_status,
        lost_answer_rate=args.lost_answer_rate,
        rate_limit_429_rate=args.rate_limit_429_rate,
        retry_after_seconds=args.retry_after_seconds,
        request_limit=args.request_limit,
        limit_window_seconds=args.limit_window_seconds,
        seed=args.seed,
    ).updated(**fields)


def parse_config(argv: list[str]) -> SimConfig:
    """The SimConfig of command-line arguments, without starting anything (for tests)."""
    return config_from_args(_parser().parse_args(argv))


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
        config = config_from_args(args)
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
