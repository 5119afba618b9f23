"""What Todoist's answers mean: the error classifier, and the parsed `/sync` answer.

Pure functions over status codes, headers and decoded JSON: no HTTP, no settings. The client
(`todoist_sync.todoist`) sends; this module reads. The single classifier,
``error_from_response``, is shared with the sync engine so per-command errors inside ``/sync``
answers are classified the same way as whole-request errors. Texts it builds never hold the
token: every quoted piece goes through ``redact``.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from todoist_sync.exceptions import (
    DEFAULT_RETRY_AFTER,
    TodoistAuthError,
    TodoistConfigurationError,
    TodoistError,
    TodoistNotFoundError,
    TodoistPayloadTooLargeError,
    TodoistRateLimitedError,
    TodoistTransientError,
    TodoistValidationError,
)

_MAX_DETAIL_CHARS = 500
MAX_QUOTED_BODY_CHARS = 200
CURRENT_API_URL = "https://api.todoist.com/api/v1"


_BEARER_RE = re.compile(r"(?i)(bearer\s+)\S+")


def redact(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "[redacted]")
    # Belt and braces: any echoed Authorization value, whatever the token.
    return _BEARER_RE.sub(r"\1[redacted]", text)


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if isinstance(key, str) and key.lower() == lowered:
                value = candidate
                break
    return value if isinstance(value, str) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _now() -> datetime:
    """Current UTC time; a function so tests can pin it."""
    return datetime.now(UTC)


def _non_negative_seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _retry_after_seconds(headers: Mapping[str, str] | None, extra: Mapping[str, Any]) -> float:
    raw = _header(headers, "Retry-After")
    if raw is not None:
        raw = raw.strip()
        try:
            seconds = _non_negative_seconds(float(raw))
        except ValueError:
            seconds = None
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are GMT
                    when = when.replace(tzinfo=UTC)
                seconds = max(0.0, (when - _now()).total_seconds())
        if seconds is not None:
            return seconds
    from_body = _non_negative_seconds(extra.get("retry_after"))
    return from_body if from_body is not None else DEFAULT_RETRY_AFTER


def _coerce_body(body: object) -> object:
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str) and body.lstrip().startswith("{"):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def classify(
    status: int | None,
    body: object,
    headers: Mapping[str, str] | None = None,
    secret: str | None = None,
) -> TodoistError:
    body = _coerce_body(body)
    tag: str | None = None
    code: int | None = None
    argument: str | None = None
    message: str | None = None
    extra: Mapping[str, Any] = {}
    if isinstance(body, Mapping):
        tag = _str_or_none(body.get("error_tag"))
        code = int_or_none(body.get("error_code"))
        raw_extra = body.get("error_extra")
        if isinstance(raw_extra, Mapping):
            extra = raw_extra
        argument = _str_or_none(extra.get("argument"))
        # The explanation is the specific reason; "error" is the generic class of problem.
        message = _str_or_none(extra.get("explanation")) or _str_or_none(body.get("error"))
    elif isinstance(body, str) and body.strip():
        message = body
    if message is not None:
        message = clip(redact(message, secret), MAX_QUOTED_BODY_CHARS)
    if argument is not None:
        argument = clip(redact(argument, secret), 100)

    if argument and message:
        reason = f"{argument}: {message}"
    elif argument:
        reason = f"argument {argument}"
    else:
        reason = message

    def detail(lead: str, suffix: str = "") -> str:
        where = " ".join(str(part) for part in (status, tag) if part is not None)
        text = f"{lead} ({where})" if where else lead
        if reason:
            text = f"{text}: {reason}"
        return clip(redact(text + suffix, secret), _MAX_DETAIL_CHARS)

    common: dict[str, Any] = {"status": status, "error_tag": tag, "error_code": code}

    auth_tag = tag is not None and tag.startswith("AUTH_")
    if (
        status == 401
        or (status == 403 and (tag is None or auth_tag))
        or (status is None and auth_tag)
    ):
        return TodoistAuthError(detail("Todoist rejected the credentials"), **common)
    # A tagged non-AUTH 403 (e.g. MAX_ITEMS_LIMIT_REACHED) is about this request, not the token.
    # status None only comes from a /sync command error without http_code: a refused command.
    if status in (400, 403, 422, None):
        return TodoistValidationError(
            detail("Todoist rejected the request"), argument=argument, **common
        )
    if status == 404:
        return TodoistNotFoundError(detail("Todoist could not find the item"), **common)
    if status == 429:
        retry_after = _retry_after_seconds(headers, extra)
        return TodoistRateLimitedError(
            detail("Todoist rate limit reached", f"; retry after {retry_after:g} s"),
            retry_after=retry_after,
            **common,
        )
    if status == 413:
        return TodoistPayloadTooLargeError(
            detail("Todoist refused the request body as too large"), **common
        )
    if status == 410:
        return TodoistConfigurationError(
            "Todoist answered 410 Gone: this API version is retired; "
            f"set TODOIST_API_URL to {CURRENT_API_URL}",
            **common,
        )
    if status == 408 or (status is not None and status >= 500):
        return TodoistTransientError(detail("Todoist is temporarily unavailable"), **common)
    if status is not None and 300 <= status < 500:
        # Redirects are not followed (they would turn a POST into a GET): a wrong base URL.
        return TodoistConfigurationError(
            detail(
                "Todoist answered an unexpected status",
                f"; check TODOIST_API_URL ({CURRENT_API_URL})",
            ),
            **common,
        )
    return TodoistTransientError(detail("Todoist gave an unexpected answer"), **common)


def error_from_response(
    status: int, body: object, headers: Mapping[str, str] | None = None
) -> TodoistError:
    """Classify one error answer into the matching ``TodoistError`` subclass.

    ``body`` may be the parsed JSON error object, its text, bytes, plain text or ``None``. Also
    used for the per-command errors in ``/sync`` answers: pass the command's error object as
    ``body`` and its ``http_code`` as ``status``.
    """
    return classify(status, body, headers)


@dataclass(frozen=True)
class SyncResult:
    """Parsed ``/sync`` answer: per-command outcome by uuid, temp id -> real id, raw answer;
    for a read, the objects changed since the ``sync_token`` sent and the new token."""

    sync_status: dict[str, Literal["ok"] | TodoistError]
    temp_id_mapping: dict[str, str]
    raw: dict
    sync_token: str | None = None
    full_sync: bool = False
    items: list[dict] = field(default_factory=list)
    projects: list[dict] = field(default_factory=list)
    user: dict | None = None


def sync_result_from(
    data: object,
    *,
    commands: Sequence[Mapping[str, Any]],
    read: bool,
    status: int,
    secret: str,
    garbled: Callable[[str], TodoistError],
) -> SyncResult:
    """A ``/sync`` answer, parsed: each command's outcome classified, the temp id mapping and,
    for a read (`read`), what changed and the new sync token. `garbled(expected)` is the error
    for an answer that is not what it should be."""
    if not isinstance(data, dict):
        raise garbled("an object")
    if data.get("sync_status") is None and not commands:
        data = {**data, "sync_status": {}}  # a read only: nothing to report
    if not isinstance(data.get("sync_status"), dict):
        raise garbled("an object with sync_status")
    mapping = data.get("temp_id_mapping", {})
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise garbled("temp_id_mapping as an object")
    statuses: dict[str, Literal["ok"] | TodoistError] = {}
    for uuid, outcome in data["sync_status"].items():
        if outcome == "ok":
            statuses[str(uuid)] = "ok"
        elif isinstance(outcome, Mapping):
            statuses[str(uuid)] = classify(
                int_or_none(outcome.get("http_code")), outcome, None, secret
            )
        else:
            statuses[str(uuid)] = TodoistTransientError(
                "Todoist gave an unreadable status for this command", status=status
            )
    changed: dict[str, Any] = {}
    if read:
        token = data.get("sync_token")
        if not isinstance(token, str) or not token:
            raise garbled("a sync_token")
        changed["sync_token"] = token
        changed["full_sync"] = bool(data.get("full_sync"))
        for kind in ("items", "projects"):
            objects = data.get(kind) or []
            if not isinstance(objects, list) or not all(
                isinstance(o, dict) and "id" in o for o in objects
            ):
                raise garbled(f"{kind} as a list of objects with ids")
            changed[kind] = objects
        user = data.get("user")
        changed["user"] = user if isinstance(user, dict) and "id" in user else None
    return SyncResult(
        sync_status=statuses,
        temp_id_mapping={str(k): str(v) for k, v in mapping.items()},
        raw=data,
        **changed,
    )
