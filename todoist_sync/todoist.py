"""HTTP adapter for the Todoist API v1 (https://api.todoist.com/api/v1).

What this module is: one thin client that sends exactly one HTTP request per call and turns the
answer into a plain value (dict / list / ``SyncResult``) or a typed ``TodoistError``. The single
classifier, ``error_from_response``, is shared with the sync engine so per-command errors inside
``/sync`` answers are classified the same way as whole-request errors.

What it is not: it holds no policy. No retries, no sleeping or backoff, no batching decisions, no
mapping of local fields to Todoist fields, no persistence, and no Django settings (the engine passes
``token`` and ``base_url`` in), so it can be tested on its own.

Secrets: the token lives only inside a private auth object and is sent per request as
``Authorization: Bearer <token>``; it never goes on the shared session, into an exception text,
``repr`` or log record.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode

import requests
from requests.auth import AuthBase

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

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_IDS_PER_QUERY",
    "MAX_REQUEST_ID_BYTES",
    "MAX_SYNC_COMMANDS",
    "SyncResult",
    "TodoistAuthError",
    "TodoistClient",
    "TodoistConfigurationError",
    "TodoistError",
    "TodoistNotFoundError",
    "TodoistRateLimitedError",
    "TodoistTransientError",
    "TodoistValidationError",
    "error_from_response",
]

MAX_SYNC_COMMANDS = 100  # Todoist's documented cap per /sync request
MAX_REQUEST_ID_BYTES = 36  # documented limit for X-Request-Id
MAX_IDS_PER_QUERY = 100  # keeps GET /tasks?ids=... query strings reasonably short
LIST_PAGE_LIMIT = 200  # Todoist's maximum page size for GET /tasks
_MAX_DETAIL_CHARS = 500
_MAX_QUOTED_BODY_CHARS = 200
_CURRENT_API_URL = "https://api.todoist.com/api/v1"


# --------------------------------------------------------------------------------------------------
# Classification


_BEARER_RE = re.compile(r"(?i)(bearer\s+)\S+")


def _redact(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "[redacted]")
    # Belt and braces: any echoed Authorization value, whatever the token.
    return _BEARER_RE.sub(r"\1[redacted]", text)


def _clip(text: str, limit: int) -> str:
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


def _int_or_none(value: object) -> int | None:
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


def _classify(
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
        code = _int_or_none(body.get("error_code"))
        raw_extra = body.get("error_extra")
        if isinstance(raw_extra, Mapping):
            extra = raw_extra
        argument = _str_or_none(extra.get("argument"))
        # The explanation is the specific reason; "error" is the generic class of problem.
        message = _str_or_none(extra.get("explanation")) or _str_or_none(body.get("error"))
    elif isinstance(body, str) and body.strip():
        message = body
    if message is not None:
        message = _clip(_redact(message, secret), _MAX_QUOTED_BODY_CHARS)
    if argument is not None:
        argument = _clip(_redact(argument, secret), 100)

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
        return _clip(_redact(text + suffix, secret), _MAX_DETAIL_CHARS)

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
            f"set TODOIST_API_URL to {_CURRENT_API_URL}",
            **common,
        )
    if status == 408 or (status is not None and status >= 500):
        return TodoistTransientError(detail("Todoist is temporarily unavailable"), **common)
    if status is not None and 300 <= status < 500:
        # Redirects are not followed (they would turn a POST into a GET): a wrong base URL.
        return TodoistConfigurationError(
            detail(
                "Todoist answered an unexpected status",
                f"; check TODOIST_API_URL ({_CURRENT_API_URL})",
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
    return _classify(status, body, headers)


# --------------------------------------------------------------------------------------------------
# Client


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


class _BearerAuth(AuthBase):
    """Sets the per-request Authorization header.

    An auth object rather than a plain header so that requests never swaps in ~/.netrc
    credentials, and so frames and reprs hold this object instead of the raw token.
    """

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(<redacted>)"


_shared_session: requests.Session | None = None
_shared_session_lock = threading.Lock()


def _get_shared_session() -> requests.Session:
    # One connection pool per process; it carries no credentials (tokens are per request).
    global _shared_session
    if _shared_session is None:
        with _shared_session_lock:
            if _shared_session is None:
                _shared_session = requests.Session()
    return _shared_session


def encode_json(payload: object) -> bytes:
    """A request body as sent: compact UTF-8 JSON, non-ASCII unescaped."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# Sentinel for "2xx body was not JSON"; distinct from a JSON null.
_Garbled = object()

_TOKEN_RE = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: safe as a header value


def _quote_id(todoist_id: str) -> str:
    if not isinstance(todoist_id, str) or not todoist_id:
        raise ValueError("Todoist id must be a non-empty string")
    return quote(todoist_id, safe="")


class TodoistClient:
    """One request per call against Todoist API v1; answers are values or ``TodoistError``."""

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        # Checked here, without echoing it, so requests never reports an invalid header value
        # (its message would quote the token).
        if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
            raise ValueError(
                "Todoist token must be a non-empty string of printable ASCII without spaces"
            )
        if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
            raise ValueError("Todoist base_url must be an http(s) URL")
        self._auth = _BearerAuth(token)
        self._base_url = base_url.rstrip("/")
        self._timeout = (float(connect_timeout), float(read_timeout))
        self._session = session

    def __repr__(self) -> str:
        return f"TodoistClient(base_url={self._base_url!r}, token=<redacted>)"

    # -- public calls -----------------------------------------------------------------------------

    def create_task(self, payload: dict, *, request_id: str) -> dict:
        """POST /tasks with ``X-Request-Id: request_id``; returns the created task."""
        if (
            not isinstance(request_id, str)
            or not request_id
            or not request_id.isascii()
            or len(request_id.encode("ascii")) > MAX_REQUEST_ID_BYTES
        ):
            raise ValueError(
                f"request_id must be 1..{MAX_REQUEST_ID_BYTES} bytes of ASCII "
                "(Todoist's X-Request-Id limit)"
            )
        response = self._request(
            "POST", "/tasks", json=payload, headers={"X-Request-Id": request_id}
        )
        return self._task_from(response)

    def update_task(self, todoist_task_id: str, payload: dict) -> dict:
        """POST /tasks/{id} with the fields to change; returns the updated task."""
        response = self._request("POST", f"/tasks/{_quote_id(todoist_task_id)}", json=payload)
        return self._task_from(response)

    def close_task(self, todoist_task_id: str) -> None:
        """POST /tasks/{id}/close; any 2xx (200 ``null`` or 204) is success."""
        self._request("POST", f"/tasks/{_quote_id(todoist_task_id)}/close")

    def reopen_task(self, todoist_task_id: str) -> None:
        """POST /tasks/{id}/reopen; any 2xx is success."""
        self._request("POST", f"/tasks/{_quote_id(todoist_task_id)}/reopen")

    def list_tasks(self, *, ids: Sequence[str]) -> list[dict]:
        """GET /tasks?ids=...: every page of every chunk of at most 100 ids.

        An empty ``ids`` returns ``[]`` without a request: without ``ids`` Todoist would list
        every active task of the user.
        """
        if isinstance(ids, str):
            raise ValueError("ids must be a sequence of ids, not a string")
        unique: list[str] = []
        for todoist_id in ids:
            if not isinstance(todoist_id, str) or not todoist_id or "," in todoist_id:
                raise ValueError("each id must be a non-empty string without commas")
            if todoist_id not in unique:
                unique.append(todoist_id)

        tasks: list[dict] = []
        for start in range(0, len(unique), MAX_IDS_PER_QUERY):
            chunk = unique[start : start + MAX_IDS_PER_QUERY]
            cursor: str | None = None
            seen_cursors: set[str] = set()
            while True:
                params = {"ids": ",".join(chunk), "limit": str(LIST_PAGE_LIMIT)}
                if cursor is not None:
                    params["cursor"] = cursor
                response = self._request("GET", "/tasks", query=params)
                page, cursor = self._page_from(response)
                tasks.extend(page)
                if cursor is None:
                    break
                if cursor in seen_cursors:  # a repeated cursor would loop forever
                    raise TodoistTransientError(
                        "Todoist returned a repeated page cursor for GET /tasks",
                        status=response.status_code,
                    )
                seen_cursors.add(cursor)
        return tasks

    def get_user(self) -> dict:
        """GET /user: the token's owner (used to check a token before saving it)."""
        response = self._request("GET", "/user")
        data = self._json_from(response)
        if not isinstance(data, dict) or "id" not in data:
            raise self._garbled(response, "a user object")
        return data

    def sync(
        self,
        commands: Sequence[dict] = (),
        *,
        sync_token: str | None = None,
        resource_types: Sequence[str] | None = None,
    ) -> SyncResult:
        """POST /sync with ``{"commands": [...]}`` (at most 100); classifies each command.

        With ``sync_token`` (``"*"``: everything) and ``resource_types`` it also reads what
        changed since that token, after the commands are applied.
        """
        commands = list(commands)
        if len(commands) > MAX_SYNC_COMMANDS:
            raise ValueError(
                f"{len(commands)} commands given; "
                f"Todoist accepts at most {MAX_SYNC_COMMANDS} per /sync"
            )
        uuids: set[str] = set()
        for command in commands:
            if not isinstance(command, Mapping) or not {"type", "uuid", "args"} <= command.keys():
                raise ValueError('each sync command needs "type", "uuid" and "args"')
            if command["uuid"] in uuids:  # the answer is keyed by uuid: duplicates would collide
                raise ValueError("sync command uuids must be unique within one request")
            uuids.add(command["uuid"])

        body: dict[str, Any] = {"commands": commands}
        if sync_token is not None:
            body["sync_token"] = sync_token
            body["resource_types"] = list(resource_types or ())
        response = self._request("POST", "/sync", json=body)
        data = self._json_from(response)
        if not isinstance(data, dict):
            raise self._garbled(response, "an object")
        if data.get("sync_status") is None and not commands:
            data = {**data, "sync_status": {}}  # a read only: nothing to report
        if not isinstance(data.get("sync_status"), dict):
            raise self._garbled(response, "an object with sync_status")
        mapping = data.get("temp_id_mapping", {})
        if mapping is None:
            mapping = {}
        if not isinstance(mapping, dict):
            raise self._garbled(response, "temp_id_mapping as an object")

        statuses: dict[str, Literal["ok"] | TodoistError] = {}
        for uuid, outcome in data["sync_status"].items():
            if outcome == "ok":
                statuses[str(uuid)] = "ok"
            elif isinstance(outcome, Mapping):
                statuses[str(uuid)] = _classify(
                    _int_or_none(outcome.get("http_code")), outcome, None, self._auth._token
                )
            else:
                statuses[str(uuid)] = TodoistTransientError(
                    "Todoist gave an unreadable status for this command",
                    status=response.status_code,
                )
        read: dict[str, Any] = {}
        if sync_token is not None:
            token = data.get("sync_token")
            if not isinstance(token, str) or not token:
                raise self._garbled(response, "a sync_token")
            read["sync_token"] = token
            read["full_sync"] = bool(data.get("full_sync"))
            for kind in ("items", "projects"):
                objects = data.get(kind) or []
                if not isinstance(objects, list) or not all(
                    isinstance(o, dict) and "id" in o for o in objects
                ):
                    raise self._garbled(response, f"{kind} as a list of objects with ids")
                read[kind] = objects
            user = data.get("user")
            read["user"] = user if isinstance(user, dict) and "id" in user else None
        return SyncResult(
            sync_status=statuses,
            temp_id_mapping={str(k): str(v) for k, v in mapping.items()},
            raw=data,
            **read,
        )

    # -- plumbing ---------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> requests.Response:
        url = self._base_url + path
        if query:
            # Commas stay literal in ids=a,b,c; everything else is percent-encoded.
            url += "?" + urlencode(query, safe=",", quote_via=quote)
        session = self._session if self._session is not None else _get_shared_session()
        kwargs: dict[str, Any] = {
            "headers": headers or {},
            "auth": self._auth,
            "timeout": self._timeout,
            "allow_redirects": False,
        }
        if json is not None:
            # UTF-8 as it is: `requests`' json= escapes non-ASCII as \\uXXXX, six bytes for one
            # character, and Todoist refuses bodies over 1 MiB.
            kwargs["data"] = encode_json(json)
            kwargs["headers"] = {**kwargs["headers"], "Content-Type": "application/json"}

        error: TodoistError | None = None
        response: requests.Response | None = None
        started = time.monotonic()
        try:
            response = session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            error = self._transport_error(
                TodoistTransientError, "Todoist did not answer in time", exc
            )
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            error = self._transport_error(TodoistTransientError, "Could not reach Todoist", exc)
        except requests.RequestException as exc:
            error = self._transport_error(
                TodoistConfigurationError, "The request to Todoist could not be sent", exc
            )
        elapsed_ms = (time.monotonic() - started) * 1000
        logger.debug(
            "todoist %s %s -> %s in %.0f ms",
            method,
            path,
            response.status_code if response is not None else "no answer",
            elapsed_ms,
        )
        # Raised outside the except blocks so the requests exception (which holds the prepared
        # request and its Authorization header) is not chained as __context__.
        if error is not None:
            raise error
        assert response is not None
        if not 200 <= response.status_code < 300:
            raise _classify(
                response.status_code,
                self._error_body(response),
                response.headers,
                self._auth._token,
            )
        return response

    def _transport_error(
        self, cls: type[TodoistError], lead: str, exc: requests.RequestException
    ) -> TodoistError:
        text = _clip(_redact(str(exc), self._auth._token), _MAX_QUOTED_BODY_CHARS)
        return cls(
            f"{lead}: {type(exc).__name__}: {text}" if text else f"{lead}: {type(exc).__name__}"
        )

    @staticmethod
    def _error_body(response: requests.Response) -> object:
        try:
            return response.json()
        except ValueError:
            return response.text

    @staticmethod
    def _json_from(response: requests.Response) -> object:
        try:
            return response.json()
        except ValueError:
            return _Garbled

    def _garbled(self, response: requests.Response, expected: str) -> TodoistTransientError:
        return TodoistTransientError(
            f"Todoist answered {response.status_code} without the expected body ({expected})",
            status=response.status_code,
        )

    def _task_from(self, response: requests.Response) -> dict:
        data = self._json_from(response)
        if not isinstance(data, dict) or "id" not in data:
            raise self._garbled(response, "a task object with an id")
        return data

    def _page_from(self, response: requests.Response) -> tuple[list[dict], str | None]:
        data = self._json_from(response)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise self._garbled(response, "a page with results")
        results = data["results"]
        if not all(isinstance(task, dict) and "id" in task for task in results):
            raise self._garbled(response, "task objects with ids")
        cursor = data.get("next_cursor")
        if cursor is not None and (not isinstance(cursor, str) or not cursor):
            raise self._garbled(response, "next_cursor as a string or null")
        return results, cursor
