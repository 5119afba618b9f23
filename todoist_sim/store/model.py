"""Accounts, answer shapes, cursors and sync tokens of the local Todoist API simulator.

Task and project objects carry every field Doist's Python SDK (todoist-api-python 4.0.0)
needs to build its `Task` and `Project` models, with Todoist API v1's names.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from todoist_sim.store.errors import invalid

API_PREFIX = "/api/v1"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass
class Outcome:
    """What the HTTP layer should do: answer `status` with `body`, or drop the connection."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    account: str | None = None


@dataclass
class SyncRecord:
    """What a /sync command uuid answered, so a replay answers the same without running."""

    status: Any
    temp_id: str | None = None
    real_id: str | None = None


@dataclass
class Account:
    name: str
    # Every token that opens this account (the first one given, then any added). Todoist
    # counts its limits per user, so they all share `window` and `full_window`.
    tokens: list[str]
    user_id: str
    inbox_id: str
    # Insertion order is creation order; `seq` gives a stable cursor position.
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)
    # Next child_order per project.
    orders: dict[str, int] = field(default_factory=dict)
    request_ids: dict[str, tuple[str, str, Outcome]] = field(default_factory=dict)
    sync_uuids: dict[str, SyncRecord] = field(default_factory=dict)
    window: deque[float] = field(default_factory=deque)
    # Times of the full syncs (`sync_token="*"` or an unknown token) in the full-sync window.
    full_window: deque[float] = field(default_factory=deque)
    # Change sequence for incremental /sync reads: ("items"|"projects", id) -> version of its
    # last change, kept in change order (a touched key moves to the end).
    version: int = 0
    changes: dict[tuple[str, str], int] = field(default_factory=dict)
    # Active task ids per project, kept as tasks change, so the cap costs no scan per create.
    active: dict[str, set[str]] = field(default_factory=dict)
    # Called (under the state lock) after each change, with (account, resource, id): the
    # webhook dispatcher's hook (`todoist_sim.webhooks`); None: nobody listens.
    listener: Callable[[Account, str, str], None] | None = field(
        default=None, repr=False, compare=False
    )

    def index(self, task: dict[str, Any], *, old_project: str | None = None) -> None:
        """Record whether the task is active in its project (after any change to it)."""
        if old_project is not None:
            self.active.get(old_project, set()).discard(task["id"])
        members = self.active.setdefault(task["project_id"], set())
        if is_active(task):
            members.add(task["id"])
        else:
            members.discard(task["id"])

    def clear(self) -> None:
        self.active.clear()
        self.tasks.clear()
        self.projects.clear()
        self.seq.clear()
        self.orders.clear()
        self.request_ids.clear()
        self.sync_uuids.clear()
        self.window.clear()
        self.full_window.clear()
        self.version = 0
        self.changes.clear()

    def touch(self, resource: str, object_id: str) -> None:
        """Record that a task ("items") or project ("projects") changed."""
        self.version += 1
        key = (resource, object_id)
        self.changes.pop(key, None)
        self.changes[key] = self.version
        if self.listener is not None:
            self.listener(self, resource, object_id)

    def changed_since(self, version: int) -> list[tuple[str, str]]:
        """Keys changed after `version`, oldest change first; cost grows with the answer only."""
        keys: list[tuple[str, str]] = []
        for key, seen in reversed(self.changes.items()):
            if seen <= version:
                break
            keys.append(key)
        keys.reverse()
        return keys


def token_hint(token: str) -> str:
    """The only form of a token the simulator ever shows: its last 4 characters."""
    return token[-4:]


def account_names(
    tokens: Mapping[str, str | Iterable[str]] | Iterable[str],
) -> dict[str, tuple[str, ...]]:
    """Normalise the `tokens` argument to {account name: its tokens}.

    A mapping is {name: token} or {name: [token, ...]} (several tokens of one account, as one
    person's personal token and OAuth tokens are); a plain list names each account
    "user-<last 4 chars>".
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
    result: dict[str, tuple[str, ...]] = {}
    seen_tokens: set[str] = set()
    for name, given in pairs:
        if not isinstance(name, str) or not name:
            raise ValueError("account names must be non-empty strings")
        listed = (given,) if isinstance(given, str) else tuple(given)
        if not listed:
            raise ValueError(f"account {name!r} needs at least one token")
        for token in listed:
            check_new_token(name, token, seen_tokens)
            seen_tokens.add(token)
        result[name] = listed
    if not result:
        raise ValueError("the simulator needs at least one token")
    return result


def check_new_token(name: str, token: object, used: Iterable[str]) -> None:
    """ValueError unless `token` is a non-empty string that opens no other account yet."""
    if not isinstance(token, str) or not token.strip():
        raise ValueError(f"token of account {name!r} must be a non-empty string")
    if token in used:
        raise ValueError(f"token of account {name!r} is used by another account")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def new_task(
    task_id: str, account: Account, project_id: str, changes: Mapping[str, Any], child_order: int
) -> dict[str, Any]:
    now = now_iso()
    return {
        "id": task_id,
        "user_id": account.user_id,
        "project_id": project_id,
        "section_id": None,
        "parent_id": None,
        "content": changes["content"],
        "description": changes.get("description", ""),
        "priority": changes.get("priority", 1),
        "due": changes.get("due"),
        "deadline": None,
        "duration": None,
        "labels": list(changes.get("labels", [])),
        "child_order": child_order,
        "day_order": -1,
        "is_collapsed": False,
        "added_by_uid": account.user_id,
        "assigned_by_uid": None,
        "responsible_uid": None,
        "checked": False,
        "is_deleted": False,
        "note_count": 0,
        "added_at": now,
        "updated_at": now,
        "completed_at": None,
    }


def new_project(
    project_id: str,
    account: Account,
    fields: Mapping[str, Any],
    child_order: int,
    *,
    inbox: bool = False,
) -> dict[str, Any]:
    now = now_iso()
    return {
        "id": project_id,
        "name": fields["name"],
        "description": fields.get("description", ""),
        "color": fields.get("color", "charcoal"),
        "parent_id": None,
        "child_order": child_order,
        "is_collapsed": False,
        "is_shared": False,
        "can_assign_tasks": False,
        "is_favorite": fields.get("is_favorite", False),
        "is_archived": False,
        "is_deleted": False,
        "is_frozen": False,
        "inbox_project": inbox,
        "view_style": fields.get("view_style", "list"),
        "default_order": 0,
        "creator_uid": account.user_id,
        "workspace_id": None,
        "folder_id": None,
        "created_at": now,
        "updated_at": now,
    }


def copy_task(task: dict[str, Any]) -> dict[str, Any]:
    copy = dict(task)
    copy["labels"] = list(task["labels"])
    if task["due"] is not None:
        copy["due"] = dict(task["due"])
    return copy


def copy_project(project: dict[str, Any]) -> dict[str, Any]:
    return dict(project)


def is_active(task: dict[str, Any]) -> bool:
    return not task["checked"] and not task["is_deleted"]


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"after:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "after":
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor", "not a cursor this simulator handed out") from None


def encode_sync_token(epoch: str, account: Account) -> str:
    """An opaque token for "everything up to the account's current change"."""
    raw = f"{epoch}.{account.user_id}.{account.version}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_sync_token(token: str, epoch: str, account: Account) -> int | None:
    """The change version a token stands for, or None: unknown, another account's, or from
    before a reset (answered with a full sync, as a plausible Todoist would)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        token_epoch, user_id, version = raw.split(".")
        number = int(version)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=") != token:
        return None  # not exactly a token handed out (e.g. an extra character)
    if token_epoch != epoch or user_id != account.user_id or not 0 <= number <= account.version:
        return None
    return number


def page_params(params: Mapping[str, str]) -> tuple[int, int]:
    """(limit, after-seq) of a paged GET's query parameters."""
    limit = DEFAULT_LIMIT
    if params.get("limit"):
        try:
            limit = int(params["limit"])
        except ValueError:
            raise invalid("limit", "expected an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise invalid("limit", f"expected an integer from 1 to {MAX_LIMIT}")
    after = decode_cursor(params["cursor"]) if params.get("cursor") else 0
    return limit, after
