"""Error answers of the local Todoist API simulator, in Todoist API v1's error body shape.

Tags and codes follow what Todoist is documented or observed to answer; where it is not known,
the choice is a plausible one and says so.
"""

from __future__ import annotations

from typing import Any


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
    """A REST endpoint's 404 for an unknown or deleted task (tag not verified against Todoist)."""
    return ApiError(404, "NOT_FOUND", 478, f"{what} not found")


def item_not_found() -> ApiError:
    """A /sync command naming an unknown or deleted task, as Todoist answers it in sync_status.

    Also the answer to a temp_id defined by an earlier request: Todoist resolves a temp_id
    only within its own request, and cannot tell a stale temp_id from any other unknown id.
    """
    return ApiError(404, "ITEM_NOT_FOUND", 22, "Item not found")


def project_not_found() -> ApiError:
    """An unknown or deleted project_id (REST and /sync alike; code 21 as in Sync v9's list)."""
    return ApiError(404, "PROJECT_NOT_FOUND", 21, "Project not found")


def project_full(max_count: int) -> ApiError:
    """The project already holds its maximum of active tasks (Todoist: 300, every plan)."""
    return ApiError(
        403,
        "MAX_ITEMS_LIMIT_REACHED",
        49,
        "Maximum number of items per project reached",
        {"max_count": max_count},
    )


def too_large() -> ApiError:
    """A body over the size limit. Todoist documents the 1 MiB limit but not the answer."""
    return ApiError(413, "REQUEST_TOO_LARGE", 413, "Request entity too large")


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
