"""`SimState`: accounts, stats, switches and the /api/v1 request pipeline of the simulator.

Everything here is plain Python with no sockets, so the HTTP layer stays thin: it hands
`SimState.handle_api()` the method, path, headers and body and writes back the `Outcome`.
One lock guards all state; handlers hold it for a whole request, which is simple and plenty
fast for a local benchmark.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from todoist_sim.config import SimConfig
from todoist_sim.store.errors import (
    ApiError,
    invalid,
    not_found,
    server_error,
    too_large,
    too_many_requests,
    unauthorized,
)
from todoist_sim.store.fields import json_body, project_fields, rest_fields
from todoist_sim.store.model import (
    API_PREFIX,
    Account,
    Outcome,
    check_new_token,
    copy_project,
    copy_task,
    dumps,
)
from todoist_sim.store.person import PersonOps

MAX_REQUEST_ID_BYTES = 36

KINDS = (
    "create",
    "update",
    "close",
    "reopen",
    "move",
    "get",
    "list",
    "delete",
    "sync",
    "user",
    "projects",
    "project_create",
    "project_get",
    "project_delete",
    "project_archive",
    "project_unarchive",
    "completed",
    "unknown",
)
MUTATING_KINDS = frozenset(
    {"create", "update", "close", "reopen", "move", "delete", "sync", "project_create"}
    | {"project_delete", "project_archive", "project_unarchive"}
)
# REST calls whose successful answer is remembered under X-Request-Id (if request_id_dedupe).
REQUEST_ID_KINDS = frozenset({"create", "update", "close", "reopen", "move", "delete"})

ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TASK_PATH_RE = re.compile(r"^/tasks/([^/]+)(/close|/reopen|/move)?$")
PROJECT_PATH_RE = re.compile(r"^/projects/([^/]+)(/archive|/unarchive)?$")
COMPLETED_PATH = "/tasks/completed/by_completion_date"


class Headers(Protocol):
    """Case-insensitive header lookup, as `http.client.HTTPMessage` provides."""

    def get(self, name: str, default: Any = None) -> Any: ...


def _stable_id(seed: str) -> str:
    """A 16-character id derived from `seed`: the Inbox keeps its id across resets."""
    number = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    chars = []
    for _ in range(16):
        number, digit = divmod(number, len(ID_ALPHABET))
        chars.append(ID_ALPHABET[digit])
    return "".join(chars)


@dataclass(frozen=True)
class PlannedFault:
    kind: str  # "lose" or "fail"
    when: Callable[[list[dict[str, Any]]], bool] | None
    # "lose" only: apply just the first `applied` commands of the request (None: all of them),
    # as a request cut off midway would.
    applied: int | None = None


def _sync_commands(body: bytes) -> list[dict[str, Any]]:
    """The /sync commands of a JSON request body, if any (for matching planned faults)."""
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return []
    commands = parsed.get("commands") if isinstance(parsed, dict) else None
    return [c for c in commands if isinstance(c, dict)] if isinstance(commands, list) else []


def _first_commands(body: bytes, count: int) -> bytes:
    """A JSON /sync body with only its first `count` commands."""
    parsed = json.loads(body)
    parsed["commands"] = parsed["commands"][:count]
    return json.dumps(parsed).encode()


class SimState(PersonOps):
    """All accounts, stats and switches; every public method takes the lock itself."""

    def __init__(self, config: SimConfig, tokens: Mapping[str, str | Sequence[str]]) -> None:
        config.validate()
        self.lock = threading.Lock()
        self.config = config
        self.accounts: dict[str, Account] = {}
        self._by_token: dict[str, Account] = {}
        for name, given in tokens.items():
            user_id = str(int(hashlib.sha256(name.encode()).hexdigest()[:12], 16) % 10**8)
            account = Account(
                name=name, tokens=[], user_id=user_id, inbox_id=_stable_id(f"inbox:{name}")
            )
            self.accounts[name] = account
            for token in (given,) if isinstance(given, str) else given:
                self._add_token(account, token)
        self._seq = 0
        self._ids: set[str] = set()
        # Faults planned for the next matching requests (`plan_fault`), oldest first.
        self._planned: list[PlannedFault] = []
        self._reseed()
        self.stats = self._fresh_stats()
        self._start_accounts()

    # ----- bookkeeping -------------------------------------------------------

    def _reseed(self) -> None:
        seed = self.config.seed
        self._fault_rng = random.Random(seed)
        # A separate stream so switching a fault on does not change the ids handed out.
        self._id_rng = random.Random(None if seed is None else seed + 1)

    def _start_accounts(self) -> None:
        # A new epoch makes every sync token handed out before a reset unknown (full sync).
        self._sync_epoch = secrets.token_hex(4)
        for account in self.accounts.values():
            self._ids.add(account.inbox_id)
            self._create_project(
                account, {"name": "Inbox"}, project_id=account.inbox_id, inbox=True
            )
        self.stats["projects_created"] = 0

    @staticmethod
    def _fresh_stats() -> dict[str, Any]:
        return {
            "requests_total": 0,
            "requests_by_kind": dict.fromkeys(KINDS, 0),
            "responses_by_status": {},
            "sync_commands_executed": 0,
            "sync_commands_failed": 0,
            "sync_reads_full": 0,
            "sync_reads_incremental": 0,
            "tasks_created": 0,
            "projects_created": 0,
            "refused_project_full": 0,
            "person_edits": 0,
            "responses_401": 0,
            "responses_413": 0,
            "responses_429": 0,
            "responses_429_injected": 0,
            "responses_429_window": 0,
            "responses_429_full_sync": 0,
            "responses_5xx": 0,
            "responses_5xx_injected": 0,
            "lost_answers": 0,
            "dedupe_request_id": 0,
            "dedupe_sync_uuid": 0,
            "connections_opened": 0,
        }

    def _new_id(self) -> str:
        while True:
            candidate = "".join(self._id_rng.choice(ID_ALPHABET) for _ in range(16))
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _draw(self, rate: float) -> bool:
        # Draw only for active faults so enabling one fault leaves the others' pattern alone.
        if rate <= 0:
            return False
        return rate >= 1 or self._fault_rng.random() < rate

    def connection_opened(self) -> None:
        with self.lock:
            self.stats["connections_opened"] += 1

    def record_internal_error(self) -> None:
        with self.lock:
            self.stats["responses_5xx"] += 1
            by_status = self.stats["responses_by_status"]
            by_status["500"] = by_status.get("500", 0) + 1

    def configure(self, **changes: Any) -> SimConfig:
        with self.lock:
            new = self.config.updated(**changes)
            reseed = "seed" in changes
            self.config = new
            if reseed:
                self._reseed()
            return new

    def plan_fault(
        self,
        kind: str,
        count: int = 1,
        when: Callable[[list[dict[str, Any]]], bool] | None = None,
        applied: int | None = None,
    ) -> None:
        """Make the next `count` matching /api/v1 requests fail: "lose" applies a mutating
        request (only its first `applied` /sync commands, if given) and drops its answer,
        "fail" answers 5xx before anything is applied. `when` sees the request's /sync commands
        (empty for other requests) and picks which match."""
        if kind not in ("lose", "fail"):
            raise ValueError("kind must be 'lose' or 'fail'")
        if applied is not None and (kind != "lose" or applied < 0):
            raise ValueError("applied is a count >= 0, for lost answers only")
        with self.lock:
            self._planned.extend(PlannedFault(kind, when, applied) for _ in range(count))

    def clear_planned_faults(self) -> None:
        with self.lock:
            self._planned.clear()

    def _take_planned(self, kind: str, body: bytes, mutating: bool) -> PlannedFault | None:
        """The planned fault of this kind that hits this request, if any (it is used up)."""
        if not self._planned or (kind == "lose" and not mutating):
            return None
        commands = _sync_commands(body)
        for index, fault in enumerate(self._planned):
            if fault.kind == kind and (fault.when is None or fault.when(commands)):
                return self._planned.pop(index)
        return None

    def reset(self) -> None:
        with self.lock:
            self._planned.clear()
            for account in self.accounts.values():
                account.clear()
            self._ids.clear()
            self._seq = 0
            self._reseed()
            self.stats = self._fresh_stats()
            self._start_accounts()

    def snapshot_stats(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.stats))

    def _add_token(self, account: Account, token: str) -> None:
        check_new_token(account.name, token, self._by_token)
        account.tokens.append(token)
        self._by_token[token] = account

    def add_token(self, account_or_token: str, token: str) -> Account:
        """Let `token` open the account too (it then shares the account's data and limits), as
        a second client or an OAuth grant does. KeyError: no such account; ValueError: the
        token is empty or opens an account already."""
        with self.lock:
            account = self.find_account(account_or_token)
            self._add_token(account, token)
            return account

    def add_account(self, name: str, token: str) -> Account:
        """A new account (with its Inbox) opened by `token`, as OAuth consent makes one."""
        with self.lock:
            if name in self.accounts:
                raise ValueError(f"account {name!r} exists")
            user_id = str(int(hashlib.sha256(name.encode()).hexdigest()[:12], 16) % 10**8)
            account = Account(
                name=name, tokens=[], user_id=user_id, inbox_id=_stable_id(f"inbox:{name}")
            )
            self._add_token(account, token)
            self.accounts[name] = account
            self._ids.add(account.inbox_id)
            self._create_project(
                account, {"name": "Inbox"}, project_id=account.inbox_id, inbox=True
            )
            return account

    def drop_token(self, token: str) -> Account | None:
        """Revoke a token: it answers 401 from now on. Answers its account, if it had one."""
        with self.lock:
            account = self._by_token.pop(token, None)
            if account is not None and token in account.tokens:
                account.tokens.remove(token)
            return account

    def find_account(self, account_or_token: str) -> Account:
        account = self.accounts.get(account_or_token) or self._by_token.get(account_or_token)
        if account is None:
            raise KeyError("no account with that name or token")
        return account

    def all_tasks(self, account_or_token: str) -> list[dict[str, Any]]:
        with self.lock:
            account = self.find_account(account_or_token)
            return [copy_task(t) for t in account.tasks.values()]

    def all_projects(self, account_or_token: str) -> list[dict[str, Any]]:
        with self.lock:
            account = self.find_account(account_or_token)
            return [copy_project(p) for p in account.projects.values()]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "simulator": "local Todoist API simulator - NOT Todoist",
                "accounts": list(self.accounts),
                "tasks": {
                    name: [copy_task(t) for t in acc.tasks.values()]
                    for name, acc in self.accounts.items()
                },
                "projects": {
                    name: [copy_project(p) for p in acc.projects.values()]
                    for name, acc in self.accounts.items()
                },
                "stats": json.loads(json.dumps(self.stats)),
                "config": self.config.as_dict(),
            }

    # ----- the /api/v1 pipeline ----------------------------------------------

    @staticmethod
    def classify(method: str, path: str) -> str:
        """Endpoint kind of an /api/v1-relative path, for stats and fault rules."""
        if path == "/tasks":
            return {"POST": "create", "GET": "list"}.get(method, "unknown")
        if path == "/projects":
            return {"POST": "project_create", "GET": "projects"}.get(method, "unknown")
        if path == "/sync":
            return "sync" if method == "POST" else "unknown"
        if path == "/user":
            return "user" if method == "GET" else "unknown"
        if path == COMPLETED_PATH:
            return "completed" if method == "GET" else "unknown"
        match = TASK_PATH_RE.match(path)
        if match:
            if match.group(2):
                return match.group(2)[1:] if method == "POST" else "unknown"
            return {"POST": "update", "GET": "get", "DELETE": "delete"}.get(method, "unknown")
        match = PROJECT_PATH_RE.match(path)
        if match:
            if match.group(2):
                return f"project_{match.group(2)[1:]}" if method == "POST" else "unknown"
            return {"GET": "project_get", "DELETE": "project_delete"}.get(method, "unknown")
        return "unknown"

    def handle_api(
        self,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
    ) -> Outcome:
        """Run one /api/v1 request (path without the prefix) through faults and handlers."""
        with self.lock:
            outcome = self._handle_api_locked(method, path, query, headers, body)
            stats = self.stats
            if outcome.drop:
                stats["lost_answers"] += 1
            else:
                key = str(outcome.status)
                stats["responses_by_status"][key] = stats["responses_by_status"].get(key, 0) + 1
                if outcome.status == 401:
                    stats["responses_401"] += 1
                elif outcome.status == 413:
                    stats["responses_413"] += 1
                elif outcome.status == 429:
                    stats["responses_429"] += 1
                elif outcome.status >= 500:
                    stats["responses_5xx"] += 1
            return outcome

    def _handle_api_locked(
        self,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
    ) -> Outcome:
        config = self.config
        kind = self.classify(method, path)
        self.stats["requests_total"] += 1
        self.stats["requests_by_kind"][kind] += 1

        # Order: injected 5xx (before anything), body size, auth, window limit, injected 429,
        # work. The size check comes first as a front proxy's would: nothing is applied.
        if self._take_planned("fail", body, kind in MUTATING_KINDS) is not None or self._draw(
            config.error_rate
        ):
            self.stats["responses_5xx_injected"] += 1
            return self._error(server_error(config.error_status))

        if config.max_body_bytes is not None and len(body) > config.max_body_bytes:
            return self._error(too_large())

        account = self._authenticate(headers)
        if account is None:
            return self._error(unauthorized())

        if config.request_limit is not None:
            now = time.monotonic()
            window = account.window
            while window and window[0] <= now - config.limit_window_seconds:
                window.popleft()
            if len(window) >= config.request_limit:
                # Refused requests do not count, so a client that backs off recovers.
                wait = max(1, math.ceil(window[0] + config.limit_window_seconds - now))
                self.stats["responses_429_window"] += 1
                return self._error(too_many_requests(wait), account)
            window.append(now)

        if self._draw(config.rate_limit_429_rate):
            self.stats["responses_429_injected"] += 1
            return self._error(too_many_requests(config.retry_after_seconds), account)

        lost = self._take_planned("lose", body, kind in MUTATING_KINDS)
        if lost is not None and lost.applied is not None:
            # Cut off midway: only a prefix of the commands ran before the connection dropped.
            body = _first_commands(body, lost.applied)
        try:
            outcome = self._dispatch(kind, method, path, query, headers, body, account)
        except ApiError as exc:
            outcome = self._error(exc, account)
        outcome.account = account.name

        if lost is not None or (kind in MUTATING_KINDS and self._draw(config.lost_answer_rate)):
            outcome.drop = True
        return outcome

    def _authenticate(self, headers: Headers) -> Account | None:
        value = headers.get("Authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._by_token.get(token.strip())

    @staticmethod
    def _error(exc: ApiError, account: Account | None = None) -> Outcome:
        return Outcome(
            exc.http_code,
            dumps(exc.body()),
            dict(exc.headers),
            account=account.name if account else None,
        )

    def _dispatch(
        self,
        kind: str,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
        account: Account,
    ) -> Outcome:
        if kind == "unknown":
            raise ApiError(404, "NOT_FOUND", 404, f"No endpoint {method} {API_PREFIX}{path}")
        if kind == "user":
            user = {
                "id": account.user_id,
                "email": "sim@example.invalid",
                "full_name": "Simulator user",
                "inbox_project_id": account.inbox_id,
            }
            return Outcome(200, dumps(user))
        if kind == "list":
            return self._list_tasks(account, query)
        if kind == "completed":
            return self._list_completed(account, query)
        if kind == "sync":
            return self._sync(account, headers, body)
        if kind.startswith("project"):
            return self._projects_rest(kind, path, query, body, account)

        match = TASK_PATH_RE.match(path)
        task_id = match.group(1) if match else None

        if kind == "get":
            # Active tasks only; one in an archived project is not active either (undocumented:
            # the worst case, read the project to tell it from a deleted task).
            task = account.tasks.get(task_id or "")
            if task is None or not self._visible(account, task):
                raise not_found()
            return Outcome(200, dumps(task))

        # Mutating REST call: replay a remembered answer for a repeated X-Request-Id.
        # Todoist v1 ignores the header; request_id_dedupe=False does too.
        request_id = headers.get("X-Request-Id") if self.config.request_id_dedupe else None
        if request_id is not None:
            if len(request_id.encode()) > MAX_REQUEST_ID_BYTES:
                raise invalid("X-Request-Id", f"must be at most {MAX_REQUEST_ID_BYTES} bytes")
            seen = account.request_ids.get(request_id)
            if seen is not None and seen[0] == method and seen[1] == path:
                self.stats["dedupe_request_id"] += 1
                cached = seen[2]
                return Outcome(cached.status, cached.body, dict(cached.headers))

        payload = json_body(body) if kind in ("create", "update", "move") else {}
        if kind == "create":
            task = self._create(account, rest_fields(payload, True), payload.get("project_id"))
            outcome = Outcome(200, dumps(task))
        elif kind == "update":
            task = self._live_task(account, task_id)
            self._apply(account, task, rest_fields(payload, False))
            outcome = Outcome(200, dumps(task))
        elif kind == "move":
            task = self._live_task(account, task_id)
            if payload.get("project_id") is None:
                raise invalid("project_id", "the simulator moves tasks between projects only")
            self._move(account, task, payload["project_id"])
            outcome = Outcome(200, dumps(task))
        elif kind == "close":
            self._close(account, self._live_task(account, task_id))
            outcome = Outcome(204)
        elif kind == "reopen":
            self._set_checked(account, self._live_task(account, task_id), False)
            outcome = Outcome(204)
        else:  # delete
            self._delete_task(account, self._live_task(account, task_id))
            outcome = Outcome(204)

        if request_id is not None and kind in REQUEST_ID_KINDS:
            account.request_ids[request_id] = (method, path, outcome)
        return outcome

    def _projects_rest(
        self, kind: str, path: str, query: str, body: bytes, account: Account
    ) -> Outcome:
        if kind == "projects":
            return self._list_projects(account, query)
        if kind == "project_create":
            project = self._create_project(account, project_fields(json_body(body)))
            return Outcome(200, dumps(project))
        match = PROJECT_PATH_RE.match(path)
        project_id = match.group(1) if match else ""
        if kind == "project_get":
            # Archived projects too, with is_archived: how a client tells one from a deleted one.
            return Outcome(200, dumps(self._live_project(account, project_id)))
        if kind in ("project_archive", "project_unarchive"):
            project = self._archive_project(account, project_id, kind == "project_archive")
            return Outcome(200, dumps(project))
        self._delete_project(account, project_id)
        return Outcome(204)
