"""Runtime switches of the local Todoist API simulator (NOT Todoist itself)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SimConfig:
    """Fault and behaviour switches; every field can be changed while the server runs.

    Frozen so a request handler can read one consistent snapshot without the lock;
    changes build a new instance through `updated()`.
    """

    # Sleep this long before answering each /api/v1 request.
    latency_ms: float = 0
    # Fraction of /api/v1 requests answered `error_status` before anything else happens.
    error_rate: float = 0.0
    error_status: int = 503
    # Fraction of mutating requests (POST/DELETE) that are applied, then dropped unanswered.
    lost_answer_rate: float = 0.0
    # Fraction of authenticated requests answered 429 (nothing applied).
    rate_limit_429_rate: float = 0.0
    retry_after_seconds: int = 1
    # Sliding-window request limit per account (shared by all of its tokens, as Todoist counts
    # per user); None disables it.
    request_limit: int | None = None
    limit_window_seconds: float = 60.0
    # Full syncs (a /sync read with sync_token "*" or an unknown token) per account in their own
    # sliding window, on top of request_limit; Todoist: 100 per 15 minutes. None disables it.
    full_sync_limit: int | None = 100
    full_sync_window_seconds: float = 900.0
    # Whether a replayed item_add/project_add (same command uuid) answers its temp_id mapping
    # again, and lets later commands of that request use the temp_id. Unverified for Todoist.
    # False (the default): the worst plausible case.
    replay_temp_id_mapping: bool = False
    # Whether mutating REST task calls replay a remembered answer for a repeated X-Request-Id.
    # Todoist API v1 ignores X-Request-Id (Doist's SDK 3.0.0 changelog), so False is real.
    request_id_dedupe: bool = False
    # Active (not completed, not deleted) tasks one project may hold; Todoist: 300 on every plan.
    # None disables the check.
    project_task_cap: int | None = 300
    # Longest POST body accepted, in raw bytes received; Todoist: 1 MiB. None disables it
    # (the HTTP layer still refuses bodies over 16 MiB).
    max_body_bytes: int | None = 1024 * 1024
    # Seeds fault draws and generated ids, so single-threaded runs are reproducible.
    seed: int | None = None

    def updated(self, **changes: Any) -> SimConfig:
        """Answer a validated copy with `changes` applied; ValueError names a bad field."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        new = dataclasses.replace(self, **changes)
        new.validate()
        return new

    def validate(self) -> None:
        """Raise ValueError naming the first field whose value is out of range."""
        for name in ("error_rate", "lost_answer_rate", "rate_limit_429_rate"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1")
        if not _is_number(self.latency_ms) or self.latency_ms < 0:
            raise ValueError("latency_ms must be a number >= 0")
        if not _is_int(self.error_status) or not 500 <= self.error_status <= 599:
            raise ValueError("error_status must be an integer between 500 and 599")
        if not _is_int(self.retry_after_seconds) or self.retry_after_seconds < 0:
            raise ValueError("retry_after_seconds must be an integer >= 0")
        if self.request_limit is not None and (
            not _is_int(self.request_limit) or self.request_limit < 1
        ):
            raise ValueError("request_limit must be null or an integer >= 1")
        for name in ("limit_window_seconds", "full_sync_window_seconds"):
            if not _is_number(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a number > 0")
        for name in ("replay_temp_id_mapping", "request_id_dedupe"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a boolean")
        for name in ("project_task_cap", "max_body_bytes", "full_sync_limit"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise ValueError(f"{name} must be null or an integer >= 1")
        if self.seed is not None and not _is_int(self.seed):
            raise ValueError("seed must be null or an integer")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def worst_case(self) -> SimConfig:
        """This config with `WORST_CASE` applied on top."""
        return self.updated(**WORST_CASE)


# Where Todoist's behaviour is known these are its values; where it is undocumented, the worst
# plausible one. They are the defaults above; `--worst-case`, `Simulator(worst_case=True)` and
# `POST /__sim__/config/worst-case` apply them again over a kinder config.
WORST_CASE: dict[str, Any] = {
    # Todoist v1 ignores X-Request-Id: a retried POST /tasks creates a second task.
    "request_id_dedupe": False,
    # 300 active tasks per project on every plan; the 301st answers 403 MAX_ITEMS_LIMIT_REACHED.
    "project_task_cap": 300,
    # 1 MiB per POST body (documented); the status of a longer one is not (413 assumed).
    "max_body_bytes": 1024 * 1024,
    # Undocumented: a replayed item_add answers "ok" with no temp_id_mapping entry.
    "replay_temp_id_mapping": False,
    # 100 full syncs per user per 15 minutes (documented); the 101st answers 429.
    "full_sync_limit": 100,
    "full_sync_window_seconds": 900.0,
}


def _is_number(value: object) -> bool:
    # bool is an int subclass; `true` from JSON must not pass as 1.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
