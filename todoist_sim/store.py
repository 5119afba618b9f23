"""State and request logic of the local Todoist API simulator (NOT Todoist itself).

Everything here is plain Python with no sockets, so the HTTP layer stays thin: it
hands `SimState.handle_api()` the method, path, headers and body and writes back
the `Outcome`. One lock guards all state; handlers hold it for a whole request,
which is simple and plenty fast for a local benchmark.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs

from todoist_sim.config import SimConfig

API_PREFIX = "/api/v1"
MAX_CONTENT = 500
MAX_DESCRIPTION = 16383
MAX_REQUEST_ID_BYTES = 36
MAX_SYNC_COMMANDS = 100
DEFAULT_LIMIT = 50
MAX_LIMIT = 200

KINDS = ("create", "update", "close", "reopen", "get", "list", "delete", "sync", "user", "unknown")
MUTATING_KINDS = frozenset({"create", "update", "close", "reopen", "delete", "sync"})
# REST calls whose successful answer is remembered under X-Request-Id.
REQUEST_ID_KINDS = frozenset({"create", "update", "close", "reopen", "delete"})

_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TASK_PATH_RE = re.compile(r"^/tasks/([^/]+)(/close|/reopen)?$")
_UNSET = object()


class Headers(Protocol):
    """Case-insensitive header lookup, as `http.client.HTTPMessage` provides."""

    def get(self, name: str, default: Any = None) -> Any: ...


class ApiError(Exception):
    """An error answered with Todoist v1's error body shape."""

    def __init__(
        self,
        http_code: int,
        error_tag: str,
        error_code: int,
        message: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_code = http_code
        self.error_tag = error_tag
        self.error_code = error_code
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": self.message,
            "error_code": self.error_code,
            "error_tag": self.error_tag,
            "http_code": self.http_code,
            "error_extra": dict(self.extra),
        }


def invalid(argument: str, explanation: str) -> ApiError:
    return ApiError(
        400,
        "INVALID_ARGUMENT_VALUE",
        20,
        "Invalid argument value",
        {"argument": argument, "explanation": explanation},
    )


def not_found(what: str = "Task") -> ApiError:
    return ApiError(404, "NOT_FOUND", 478, f"{what} not found")


def unauthorized() -> ApiError:
    return ApiError(401, "AUTH_INVALID_TOKEN", 401, "Invalid token")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "LIMITS_REACHED",
        35,
        "Too many requests. Limits reached. Try again later",
        {"retry_after": retry_after},
        {"Retry-After": str(retry_after)},
    )


def server_error(status: int) -> ApiError:
    tag = {500: "INTERNAL_SERVER_ERROR", 502: "BAD_GATEWAY"}.get(status, "SERVICE_UNAVAILABLE")
    return ApiError(status, tag, status, "Service unavailable (injected by the simulator)")


@dataclass
class Outcome:
    """What the HTTP layer should do: answer `status` with `body`, or drop the connection."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    account: str | None = None


@dataclass
class _SyncRecord:
    status: Any
    temp_id: str | None = None
    real_id: str | None = None


@dataclass
class Account:
    name: str
    token: str
    user_id: str
    # Insertion order is creation order; `seq` gives a stable cursor position.
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)
    request_ids: dict[str, tuple[str, str, Outcome]] = field(default_factory=dict)
    sync_uuids: dict[str, _SyncRecord] = field(default_factory=dict)
    temp_ids: dict[str, str] = field(default_factory=dict)
    window: deque[float] = field(default_factory=deque)

    def clear(self) -> None:
        self.tasks.clear()
        self.seq.clear()
        self.request_ids.clear()
        self.sync_uuids.clear()
        self.temp_ids.clear()
        self.window.clear()


def token_hint(token: str) -> str:
    """The only form of a token the simulator ever shows: its last 4 characters."""
    return token[-4:]


def account_names(tokens: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    """Normalise the `tokens` argument to {account name: token}.

    A mapping is {name: token}; a plain list names each account "user-<last 4 chars>".
    """
    if isinstance(tokens, str):
        tokens = [tokens]
    if isinstance(tokens, Mapping):
        pairs = list(tokens.items())
    else:
        pairs = []
        used: set[str] = set()
        for token in tokens:
            base = f"user-{token_hint(token) if isinstance(token, str) else '?'}"
            name, n = base, 2
            while name in used:
                name, n = f"{base}-{n}", n + 1
            used.add(name)
            pairs.append((name, token))
    result: dict[str, str] = {}
    seen_tokens: set[str] = set()
    for name, token in pairs:
        if not isinstance(name, str) or not name:
            raise ValueError("account names must be non-empty strings")
        if not isinstance(token, str) or not token.strip():
            raise ValueError(f"token of account {name!r} must be a non-empty string")
        if token in seen_tokens:
            raise ValueError(f"token of account {name!r} is used by another account")
        seen_tokens.add(token)
        result[name] = token
    if not result:
        raise ValueError("the simulator needs at least one token")
    return result


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _copy_task(task: dict[str, Any]) -> dict[str, Any]:
    copy = dict(task)
    copy["labels"] = list(task["labels"])
    if task["due"] is not None:
        copy["due"] = dict(task["due"])
    return copy


def _is_active(task: dict[str, Any]) -> bool:
    return not task["checked"] and not task["is_deleted"]


def _due(day: str, string: str | None = None) -> dict[str, Any]:
    return {"date": day, "string": string or day, "is_recurring": False, "lang": "en"}


def _parse_date(value: Any, argument: str) -> str:
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise invalid(argument, "expected a date formatted YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise invalid(argument, "not a real calendar date") from None
    return value


def _parse_due_string(value: Any, argument: str) -> dict[str, Any] | None:
    # Natural-language parsing is out of scope: only "no date" and plain dates.
    if not isinstance(value, str):
        raise invalid(argument, "expected a string")
    if value.strip().lower() == "no date":
        return None
    if _DATE_RE.match(value.strip()):
        return _due(_parse_date(value.strip(), argument), value)
    raise invalid(argument, 'the simulator accepts only "no date" or a YYYY-MM-DD date')


def _common_fields(args: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    """Validate content/description/priority/labels; answer the changes to apply."""
    changes: dict[str, Any] = {}
    if "content" in args:
        content = args["content"]
        if not isinstance(content, str):
            raise invalid("content", "expected a string")
        if not content.strip():
            raise invalid("content", "must not be empty")
        if len(content) > MAX_CONTENT:
            raise invalid("content", f"must be at most {MAX_CONTENT} characters")
        changes["content"] = content
    elif creating:
        raise invalid("content", "is required")
    if "description" in args:
        description = args["description"]
        if not isinstance(description, str):
            raise invalid("description", "expected a string")
        if len(description) > MAX_DESCRIPTION:
            raise invalid("description", f"must be at most {MAX_DESCRIPTION} characters")
        changes["description"] = description
    if "priority" in args:
        priority = args["priority"]
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 4:
            raise invalid("priority", "expected an integer from 1 to 4")
        changes["priority"] = priority
    if "labels" in args:
        labels = args["labels"]
        if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
            raise invalid("labels", "expected a list of non-empty strings")
        changes["labels"] = list(labels)
    return changes


def _rest_fields(body: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    changes = _common_fields(body, creating)
    # null due_* values mean "not given", as clients often serialise absent fields.
    due_date = body.get("due_date")
    due_string = body.get("due_string")
    if due_date is not None and due_string is not None:
        raise invalid("due_string", "only one of due_date and due_string may be given")
    if due_date is not None:
        changes["due"] = _due(_parse_date(due_date, "due_date"))
    elif due_string is not None:
        changes["due"] = _parse_due_string(due_string, "due_string")
    return changes


def _sync_fields(args: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    changes = _common_fields(args, creating)
    if "due" in args:
        due = args["due"]
        if due is None:
            changes["due"] = None
        elif not isinstance(due, dict):
            raise invalid("due", "expected an object or null")
        elif due.get("date") is not None:
            changes["due"] = _due(_parse_date(due["date"], "due"), due.get("string"))
        elif due.get("string") is not None:
            changes["due"] = _parse_due_string(due["string"], "due")
        else:
            raise invalid("due", "expected a date or a string")
    return changes


class SimState:
    """All accounts, stats and switches; every public method takes the lock itself."""

    def __init__(self, config: SimConfig, tokens: Mapping[str, str]) -> None:
        config.validate()
        self.lock = threading.Lock()
        self.config = config
        self.accounts: dict[str, Account] = {}
        self._by_token: dict[str, Account] = {}
        for name, token in tokens.items():
            user_id = str(int(hashlib.sha256(name.encode()).hexdigest()[:12], 16) % 10**8)
            account = Account(name=name, token=token, user_id=user_id)
            self.accounts[name] = account
            self._by_token[token] = account
        self._seq = 0
        self._ids: set[str] = set()
        self._reseed()
        self.stats = self._fresh_stats()

    # ----- bookkeeping -------------------------------------------------------

    def _reseed(self) -> None:
        seed = self.config.seed
        self._fault_rng = random.Random(seed)
        # A separate stream so switching a fault on does not change the ids handed out.
        self._id_rng = random.Random(None if seed is None else seed + 1)

    @staticmethod
    def _fresh_stats() -> dict[str, Any]:
        return {
            "requests_total": 0,
            "requests_by_kind": dict.fromkeys(KINDS, 0),
            "responses_by_status": {},
            "sync_commands_executed": 0,
            "sync_commands_failed": 0,
            "tasks_created": 0,
            "responses_401": 0,
            "responses_429": 0,
            "responses_429_injected": 0,
            "responses_429_window": 0,
            "responses_5xx": 0,
            "responses_5xx_injected": 0,
            "lost_answers": 0,
            "dedupe_request_id": 0,
            "dedupe_sync_uuid": 0,
            "connections_opened": 0,
        }

    def _new_id(self) -> str:
        while True:
            candidate = "".join(self._id_rng.choice(_ID_ALPHABET) for _ in range(16))
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate

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

    def reset(self) -> None:
        with self.lock:
            for account in self.accounts.values():
                account.clear()
            self._ids.clear()
            self._seq = 0
            self._reseed()
            self.stats = self._fresh_stats()

    def snapshot_stats(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.stats))

    def find_account(self, account_or_token: str) -> Account:
        account = self.accounts.get(account_or_token) or self._by_token.get(account_or_token)
        if account is None:
            raise KeyError("no account with that name or token")
        return account

    def all_tasks(self, account_or_token: str) -> list[dict[str, Any]]:
        with self.lock:
            account = self.find_account(account_or_token)
            return [_copy_task(t) for t in account.tasks.values()]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "simulator": "local Todoist API simulator - NOT Todoist",
                "accounts": list(self.accounts),
                "tasks": {
                    name: [_copy_task(t) for t in acc.tasks.values()]
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
        if path == "/sync":
            return "sync" if method == "POST" else "unknown"
        if path == "/user":
            return "user" if method == "GET" else "unknown"
        match = _TASK_PATH_RE.match(path)
        if match:
            if match.group(2):
                return match.group(2)[1:] if method == "POST" else "unknown"
            return {"POST": "update", "GET": "get", "DELETE": "delete"}.get(method, "unknown")
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

        # Order: injected 5xx (before anything), auth, window limit, injected 429, work.
        if self._draw(config.error_rate):
            self.stats["responses_5xx_injected"] += 1
            return self._error(server_error(config.error_status))

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

        try:
            outcome = self._dispatch(kind, method, path, query, headers, body, account)
        except ApiError as exc:
            outcome = self._error(exc, account)
        outcome.account = account.name

        if kind in MUTATING_KINDS and self._draw(config.lost_answer_rate):
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
            _dumps(exc.body()),
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
            return Outcome(
                200,
                _dumps(
                    {
                        "id": account.user_id,
                        "email": "sim@example.invalid",
                        "full_name": "Simulator user",
                    }
                ),
            )
        if kind == "list":
            return self._list(account, query)
        if kind == "sync":
            return self._sync(account, headers, body)

        match = _TASK_PATH_RE.match(path)
        task_id = match.group(1) if match else None

        if kind == "get":
            task = account.tasks.get(task_id or "")
            if task is None or not _is_active(task):
                raise not_found()
            return Outcome(200, _dumps(task))

        # Mutating REST call: replay a remembered answer for a repeated X-Request-Id.
        request_id = headers.get("X-Request-Id")
        if request_id is not None:
            if len(request_id.encode()) > MAX_REQUEST_ID_BYTES:
                raise invalid("X-Request-Id", f"must be at most {MAX_REQUEST_ID_BYTES} bytes")
            seen = account.request_ids.get(request_id)
            if seen is not None and seen[0] == method and seen[1] == path:
                self.stats["dedupe_request_id"] += 1
                cached = seen[2]
                return Outcome(cached.status, cached.body, dict(cached.headers))

        payload = self._json_body(body) if kind in ("create", "update") else {}
        if kind == "create":
            outcome = Outcome(200, _dumps(self._create(account, _rest_fields(payload, True))))
        elif kind == "update":
            task = self._live_task(account, task_id)
            self._apply(task, _rest_fields(payload, False))
            outcome = Outcome(200, _dumps(task))
        elif kind == "close":
            self._set_checked(self._live_task(account, task_id), True)
            outcome = Outcome(204)
        elif kind == "reopen":
            self._set_checked(self._live_task(account, task_id), False)
            outcome = Outcome(204)
        else:  # delete
            self._delete(self._live_task(account, task_id))
            outcome = Outcome(204)

        if request_id is not None and kind in REQUEST_ID_KINDS:
            account.request_ids[request_id] = (method, path, outcome)
        return outcome

    @staticmethod
    def _json_body(body: bytes) -> dict[str, Any]:
        if not body.strip():
            return {}
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise invalid("body", "expected a JSON object") from None
        if not isinstance(payload, dict):
            raise invalid("body", "expected a JSON object")
        return payload

    # ----- task operations (lock held) ---------------------------------------

    def _create(self, account: Account, changes: dict[str, Any]) -> dict[str, Any]:
        now = _now_iso()
        task_id = self._new_id()
        task = {
            "id": task_id,
            "content": changes["content"],
            "description": changes.get("description", ""),
            "priority": changes.get("priority", 1),
            "due": changes.get("due"),
            "labels": changes.get("labels", []),
            "project_id": "inbox",
            "checked": False,
            "is_deleted": False,
            "added_at": now,
            "updated_at": now,
            "completed_at": None,
        }
        self._seq += 1
        account.tasks[task_id] = task
        account.seq[task_id] = self._seq
        self.stats["tasks_created"] += 1
        return task

    @staticmethod
    def _live_task(account: Account, task_id: str | None) -> dict[str, Any]:
        task = account.tasks.get(task_id or "")
        if task is None or task["is_deleted"]:
            raise not_found()
        return task

    @staticmethod
    def _apply(task: dict[str, Any], changes: dict[str, Any]) -> None:
        if changes:
            task.update(changes)
            task["updated_at"] = _now_iso()

    @staticmethod
    def _set_checked(task: dict[str, Any], checked: bool) -> None:
        if task["checked"] != checked:
            now = _now_iso()
            task["checked"] = checked
            task["completed_at"] = now if checked else None
            task["updated_at"] = now

    @staticmethod
    def _delete(task: dict[str, Any]) -> None:
        task["is_deleted"] = True
        task["updated_at"] = _now_iso()

    def _list(self, account: Account, query: str) -> Outcome:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        limit = DEFAULT_LIMIT
        if params.get("limit"):
            try:
                limit = int(params["limit"])
            except ValueError:
                raise invalid("limit", "expected an integer") from None
            if not 1 <= limit <= MAX_LIMIT:
                raise invalid("limit", f"expected an integer from 1 to {MAX_LIMIT}")
        after = 0
        if params.get("cursor"):
            after = _decode_cursor(params["cursor"])
        wanted: set[str] | None = None
        if params.get("ids"):
            wanted = {part.strip() for part in params["ids"].split(",") if part.strip()}

        results: list[dict[str, Any]] = []
        next_cursor = None
        for task_id, task in account.tasks.items():
            seq = account.seq[task_id]
            if seq <= after or not _is_active(task):
                continue
            if wanted is not None and task_id not in wanted:
                continue
            if len(results) == limit:
                # Only hand out a cursor when another page really exists.
                next_cursor = _encode_cursor(account.seq[results[-1]["id"]])
                break
            results.append(task)
        return Outcome(200, _dumps({"results": results, "next_cursor": next_cursor}))

    # ----- /sync (lock held) -------------------------------------------------

    def _sync(self, account: Account, headers: Headers, body: bytes) -> Outcome:
        commands = self._sync_commands(headers, body)
        config = self.config
        sync_status: dict[str, Any] = {}
        mapping: dict[str, str] = {}
        for command in commands:
            cmd_uuid = command["uuid"]
            temp_id = command.get("temp_id")
            record = account.sync_uuids.get(cmd_uuid)
            if record is not None:
                self.stats["dedupe_sync_uuid"] += 1
                sync_status[cmd_uuid] = record.status
                key = temp_id or record.temp_id
                if key and record.real_id and config.replay_temp_id_mapping:
                    mapping[key] = record.real_id
                continue
            self.stats["sync_commands_executed"] += 1
            record = _SyncRecord(status="ok", temp_id=temp_id)
            try:
                record.real_id = self._run_command(account, command)
            except ApiError as exc:
                self.stats["sync_commands_failed"] += 1
                record.status = exc.body()
            if record.real_id and temp_id:
                mapping[temp_id] = record.real_id
                account.temp_ids[temp_id] = record.real_id
            account.sync_uuids[cmd_uuid] = record
            sync_status[cmd_uuid] = record.status
        answer = {
            "sync_status": sync_status,
            "temp_id_mapping": mapping,
            "sync_token": uuid.UUID(int=self._id_rng.getrandbits(128)).hex,
            "full_sync": False,
        }
        return Outcome(200, _dumps(answer))

    def _sync_commands(self, headers: Headers, body: bytes) -> list[dict[str, Any]]:
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        raw: Any
        if content_type == "application/x-www-form-urlencoded":
            try:
                form = parse_qs(body.decode(), keep_blank_values=True)
            except UnicodeDecodeError:
                raise invalid("commands", "body is not valid UTF-8") from None
            raw = form.get("commands", [None])[-1]
        else:
            raw = self._json_body(body).get("commands")
        if isinstance(raw, str):
            # Todoist's form-encoded style: commands is a JSON string.
            try:
                raw = json.loads(raw)
            except ValueError:
                raise invalid("commands", "expected a JSON list of commands") from None
        if raw is None:
            raise invalid("commands", "is required")
        if not isinstance(raw, list):
            raise invalid("commands", "expected a list of commands")
        if len(raw) > MAX_SYNC_COMMANDS:
            raise invalid("commands", f"at most {MAX_SYNC_COMMANDS} commands per request")
        # Reject malformed commands before running any, so a bad request changes nothing.
        for command in raw:
            if not isinstance(command, dict):
                raise invalid("commands", "every command must be an object")
            if not isinstance(command.get("type"), str) or not command["type"]:
                raise invalid("commands", "every command needs a string type")
            if not isinstance(command.get("uuid"), str) or not command["uuid"]:
                raise invalid("commands", "every command needs a string uuid")
            temp_id = command.get("temp_id")
            if temp_id is not None and not isinstance(temp_id, str):
                raise invalid("commands", "temp_id must be a string")
        return raw

    def _run_command(self, account: Account, command: dict[str, Any]) -> str | None:
        """Execute one command; answer the new task id for item_add."""
        kind = command["type"]
        args = command.get("args", {})
        if not isinstance(args, dict):
            raise invalid("args", "expected an object")
        if kind == "item_add":
            return self._create(account, _sync_fields(args, True))["id"]
        if kind not in (
            "item_update",
            "item_close",
            "item_complete",
            "item_uncomplete",
            "item_reopen",
            "item_delete",
        ):
            raise invalid("type", f"unknown command type {kind!r}")
        raw_id = args.get("id")
        if not isinstance(raw_id, str) or not raw_id:
            raise invalid("id", "is required")
        # A command may name a task by the temp_id given to its item_add.
        task_id = raw_id if raw_id in account.tasks else account.temp_ids.get(raw_id, raw_id)
        task = self._live_task(account, task_id)
        if kind == "item_update":
            self._apply(task, _sync_fields(args, False))
        elif kind in ("item_close", "item_complete"):
            self._set_checked(task, True)
        elif kind in ("item_uncomplete", "item_reopen"):
            self._set_checked(task, False)
        else:
            self._delete(task)
        return None


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"after:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "after":
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor", "not a cursor this simulator handed out") from None
