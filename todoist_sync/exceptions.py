"""Every error of the sync, each carrying its own policy as class attributes.

As DRF's `APIException` carries `status_code`, a class here says what it means for a run:

- `transient`: the same request may succeed later; the task is retried with backoff.
- `stops_run`: not the task's fault (the token, the rate limit, our configuration): the run stops,
  its tasks stay pending with their commands, and the run ends in `run_state`.
- `task_gone`: Todoist no longer has the task (deleted there, or completed and unreadable).
- `refused`: Todoist refused the request as sent (the token, or its arguments): asking again
  unchanged cannot help.
- `too_large`: the body was too large: the same commands go again in smaller requests.
- otherwise: Todoist refuses this task as it is; permanent until the task changes.

Callers read these attributes; nobody keeps a tuple of classes that mean "stop".
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Any

from rest_framework.exceptions import APIException

DEFAULT_RETRY_AFTER = 60.0


class RunState(StrEnum):
    """How a stopped run ends (the values of `SyncRun.State`)."""

    DEFERRED = "deferred"
    FAILED = "failed"


class RunStop(Exception):
    """Ends the run early: the rest stays pending (its commands are stored) for a later run."""

    def __init__(self, state: str, summary: str, resume_at: datetime | None = None) -> None:
        super().__init__(summary)
        self.state, self.summary, self.resume_at = state, summary, resume_at


class TodoistError(Exception):
    """Base class. ``str(exc)`` is ``detail``: short, deterministic and free of secrets."""

    transient = False
    stops_run = False
    task_gone = False
    refused = False
    too_large = False
    run_state: RunState | None = None
    # Whether the event a stopping error leaves is an error (else a warning).
    event_level = "error"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        error_tag: str | None = None,
        error_code: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.error_tag = error_tag
        self.error_code = error_code

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, error_tag={self.error_tag!r}, "
            f"error_code={self.error_code!r}, detail={self.detail!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only attributes would be lost by the default exception pickling (task queues
        # pickle results), so rebuild from detail and restore the attribute dict.
        return (type(self), (self.detail,), dict(self.__dict__))

    @property
    def project_full(self) -> bool:
        """Todoist's project holds its maximum of active tasks (403, error code 49): the task
        waits for room; neither it nor the token is at fault."""
        return self.error_tag == "MAX_ITEMS_LIMIT_REACHED"

    @property
    def project_gone(self) -> bool:
        """The project named in the command does not exist (deleted in Todoist)."""
        return self.error_tag == "PROJECT_NOT_FOUND"

    @property
    def resume_after(self) -> float | None:
        """Seconds after which a run stopped by this error may go on (None: not by itself)."""
        return None

    @property
    def run_summary(self) -> str:
        """The stopped run's summary (only for `stops_run` errors)."""
        return self.detail

    @property
    def run_event(self) -> str:
        """The event a run stopped by this error leaves."""
        return self.detail


class TodoistTransientError(TodoistError):
    """Timeout, connection failure, 5xx, or a 2xx answer that is not the expected JSON."""

    transient = True


class TodoistRateLimitedError(TodoistError):
    """429: ``retry_after`` is the number of seconds Todoist asked us to wait."""

    stops_run = True
    run_state = RunState.DEFERRED
    event_level = "warning"

    def __init__(
        self, detail: str, *, retry_after: float = DEFAULT_RETRY_AFTER, **kwargs: Any
    ) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after

    @property
    def resume_after(self) -> float:
        return self.retry_after

    @property
    def run_summary(self) -> str:
        return "Todoist rate limit reached"

    @property
    def run_event(self) -> str:
        return f"Todoist rate limit: stopped; the rest resumes after {self.retry_after:.0f} s."


class TodoistAuthError(TodoistError):
    """401, or 403 whose error_tag starts with ``AUTH_`` (or has no tag): the token/account."""

    stops_run = True
    refused = True
    run_state = RunState.FAILED

    @property
    def run_summary(self) -> str:
        return "Todoist rejected the token"

    @property
    def run_event(self) -> str:
        return "Todoist rejected the token."


class TodoistNotFoundError(TodoistError):
    """404: the task is deleted, completed (for reads of active tasks) or unknown."""

    task_gone = True


class TodoistValidationError(TodoistError):
    """400, 422, or 403 with a non-AUTH tag (e.g. a plan limit): this request is refused as is."""

    refused = True

    def __init__(self, detail: str, *, argument: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.argument = argument


class TodoistPayloadTooLargeError(TodoistError):
    """413: the request body was too large. Not the task's fault, nor our configuration's: the
    batch is sent again in halves (`too_large`)."""

    too_large = True


class TodoistConfigurationError(TodoistError):
    """410 Gone, redirects and unexpected 4xx: permanent, points at our configuration."""

    stops_run = True
    run_state = RunState.FAILED


class LeaseLost(Exception):
    """The run no longer holds its user's lease (it stalled past it, and another run took it):
    it writes nothing more and ends."""


# -- errors of the sync's own services ------------------------------------------------------------


class TodoistSyncError(APIException):
    """An error a caller shows to a person, and DRF's `APIException`: `detail` is safe to show,
    `status_code` the HTTP answer, `default_code` the stable machine code an API body carries
    (the bot reads it, never the text), `field` the input it concerns, if any."""

    status_code = 400
    default_detail = "The Todoist sync could not do this."
    default_code = "sync_error"
    field: str | None = None


class NoTodoistToken(TodoistSyncError):
    """No usable token: none of the user's own, and the shared TODOIST_API_TOKEN is unset or
    does not sync this user (TODOIST_SHARED_TOKEN_USERS). The bot reads its code, `no_token`."""

    status_code = 409
    default_detail = (
        "No Todoist token: connect one (PUT /v1/sync/todoist/token), or have the operator "
        "set TODOIST_API_TOKEN and list you in TODOIST_SHARED_TOKEN_USERS."
    )
    default_code = "no_token"

    @classmethod
    def unreadable(cls, reason: str) -> NoTodoistToken:
        """The user's stored token cannot be decrypted (the key changed or is gone)."""
        return cls(f"No Todoist token: {reason}")


class TokenRejected(TodoistSyncError):
    """Todoist refused the token being connected."""

    status_code = 400
    default_detail = "Todoist rejected this token."
    default_code = "token_rejected"
    field = "token"


class TokenCheckUnavailable(TodoistSyncError):
    """Todoist could not be reached to check the token being connected."""

    status_code = 503
    default_detail = "Todoist could not be reached to check the token; try again later."
    default_code = "todoist_unavailable"


class TokenStorageUnavailable(TodoistSyncError):
    """No encryption key: personal tokens cannot be stored on this server."""

    status_code = 503
    default_detail = (
        "Personal Todoist tokens cannot be stored on this server "
        "(TODOIST_TOKEN_ENCRYPTION_KEY is not set); ask its operator."
    )
    default_code = "token_storage_unavailable"


class TokenUnreadable(NoTodoistToken):
    """The user's stored token cannot be decrypted with the configured keys (they changed):
    unusable until connected again. Unlike a user who never connected one, worth a warning."""

    default_code = "token_unreadable"


class TokenCheckRateLimited(TodoistSyncError):
    """The token's Todoist request budget is spent: checking it now could earn it a 429 from
    Todoist, which would stop its syncs too. `retry_after` is when a request is free again."""

    status_code = 429
    default_detail = "Too many requests to Todoist with this token; try again later."
    default_code = "token_rate_limited"

    def __init__(self, detail: str | None = None, *, retry_after: float = 0.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        # As DRF's Throttled: its handler answers `wait` (whole seconds) as Retry-After.
        self.wait = math.ceil(retry_after) if retry_after > 0 else None


class OAuthUnavailable(TodoistSyncError):
    """OAuth is not configured here (TODOIST_CLIENT_ID / TODOIST_CLIENT_SECRET unset): a state
    of this server the bot answers by asking for a pasted token, as `no_token` is a 409."""

    status_code = 409
    default_detail = (
        "Connecting through Todoist is not set up on this server; paste a personal token "
        "instead (PUT /v1/sync/todoist/token), or ask its operator."
    )
    default_code = "oauth_unavailable"


class OAuthStateInvalid(TodoistSyncError):
    """The callback's `state` is unknown, expired, used, or another user's: nothing stored."""

    status_code = 400
    default_detail = (
        "This connection link is no longer valid (expired, already used, or not yours). "
        "Ask the bot for a new one and open it within 10 minutes."
    )
    default_code = "oauth_state_invalid"


class OAuthDenied(TodoistSyncError):
    """The person declined the connection on Todoist's consent page."""

    status_code = 200
    default_detail = (
        "You declined the connection in Todoist: nothing was connected. Ask the bot for a new "
        "link if you change your mind."
    )
    default_code = "oauth_denied"


class OAuthExchangeFailed(TodoistSyncError):
    """Todoist did not give a token for the code (it refused it, or could not be reached)."""

    status_code = 502
    default_detail = (
        "Todoist did not complete the connection; nothing was connected. Ask the bot for a new "
        "link and try again."
    )
    default_code = "oauth_exchange_failed"
