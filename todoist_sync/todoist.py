"""HTTP adapter for the Todoist API v1 (https://api.todoist.com/api/v1).

What this module is: one thin client that sends exactly one HTTP request per call and turns the
answer into a plain value (dict / list / ``SyncResult``) or a typed ``TodoistError``; what the
answers mean is `todoist_sync.todoist_responses`.

What it is not: it holds no policy. No retries, no sleeping or backoff, no batching decisions, no
mapping of local fields to Todoist fields, no persistence, and no Django settings (the engine passes
``token`` and ``base_url`` in), so it can be tested on its own.

Secrets: the token lives only inside a private auth object and is sent per request as
``Authorization: Bearer <token>``; it never goes on the shared session, into an exception text,
``repr`` or log record.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests
from requests.auth import AuthBase

from todoist_sync.exceptions import (
    TodoistAuthError,
    TodoistConfigurationError,
    TodoistError,
    TodoistNotFoundError,
    TodoistRateLimitedError,
    TodoistTransientError,
    TodoistValidationError,
)
from todoist_sync.todoist_responses import (
    MAX_QUOTED_BODY_CHARS,
    SyncResult,
    classify,
    clip,
    error_from_response,
    redact,
    sync_result_from,
)

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_IDS_PER_QUERY",
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
MAX_IDS_PER_QUERY = 100  # keeps GET /tasks?ids=... query strings reasonably short
LIST_PAGE_LIMIT = 200  # Todoist's maximum page size for GET /tasks


# --------------------------------------------------------------------------------------------------
# Client


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

    def completed_tasks(self, *, since: datetime, until: datetime) -> list[dict]:
        """GET /tasks/completed/by_completion_date: the tasks completed between `since` and
        `until` (at most 3 months apart), every page (200 a page)."""
        params = {
            "since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "until": until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "limit": str(LIST_PAGE_LIMIT),
        }
        tasks: list[dict] = []
        seen: set[str] = set()
        while True:
            response = self._request("GET", "/tasks/completed/by_completion_date", query=params)
            page, cursor = self._page_from(response, key="items")
            tasks.extend(page)
            if cursor is None:
                return tasks
            if cursor in seen:  # a repeated cursor would loop forever
                raise TodoistTransientError(
                    "Todoist returned a repeated page cursor for the completed tasks",
                    status=response.status_code,
                )
            seen.add(cursor)
            params["cursor"] = cursor

    def get_project(self, project_id: str) -> dict:
        """GET /projects/{id}: an archived project too, with `is_archived` (how an archived
        project is told from a deleted one, which answers 404)."""
        response = self._request("GET", f"/projects/{_quote_id(project_id)}")
        data = self._json_from(response)
        if not isinstance(data, dict) or "id" not in data:
            raise self._garbled(response, "a project object")
        return data

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
        return sync_result_from(
            self._json_from(response),
            commands=commands,
            read=sync_token is not None,
            status=response.status_code,
            secret=self._auth._token,
            garbled=lambda expected: self._garbled(response, expected),
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
            raise classify(
                response.status_code,
                self._error_body(response),
                response.headers,
                self._auth._token,
            )
        return response

    def _transport_error(
        self, cls: type[TodoistError], lead: str, exc: requests.RequestException
    ) -> TodoistError:
        text = clip(redact(str(exc), self._auth._token), MAX_QUOTED_BODY_CHARS)
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

    def _page_from(
        self, response: requests.Response, *, key: str = "results"
    ) -> tuple[list[dict], str | None]:
        data = self._json_from(response)
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise self._garbled(response, f"a page with {key}")
        results = data[key]
        if not all(isinstance(task, dict) and "id" in task for task in results):
            raise self._garbled(response, "task objects with ids")
        cursor = data.get("next_cursor")
        if cursor is not None and (not isinstance(cursor, str) or not cursor):
            raise self._garbled(response, "next_cursor as a string or null")
        return results, cursor
