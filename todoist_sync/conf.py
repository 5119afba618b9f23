"""The app's settings: one typed property each, read lazily so `override_settings` works.

Nothing else in the app reads `settings.TODOIST_*`.
"""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings

from todoist_sync import naming


class DriftPolicy(StrEnum):
    """Values of TODOIST_DRIFT_POLICY (local data is the source of truth either way)."""

    RESTORE = "restore"
    REPORT = "report"


class RecurringDone(StrEnum):
    """Values of TODOIST_RECURRING_DONE: what a local `done` does to a task recurring in Todoist."""

    OCCURRENCE = "occurrence"  # item_close: Todoist moves it to its next date
    COMPLETE = "complete"  # item_complete: the recurrence ends


class DoneInTodoist(StrEnum):
    """Values of TODOIST_DONE_IN_TODOIST: what a completion made in Todoist does."""

    DRIFT = "drift"  # a drift like any other, handled by TODOIST_DRIFT_POLICY
    ADOPT = "adopt"  # the local task becomes done; nothing is sent back


class Settings:
    @property
    def TODOIST_SYNC_TASK_MODEL(self) -> str:
        """The host's task model, as `app_label.ModelName` (see `todoist_sync.task_model`)."""
        return getattr(settings, "TODOIST_SYNC_TASK_MODEL", "planner.Task")

    @property
    def TODOIST_API_URL(self) -> str:
        return getattr(settings, "TODOIST_API_URL", "https://api.todoist.com/api/v1")

    @property
    def TODOIST_API_TOKEN(self) -> str:
        """The token for users who have not connected their own."""
        return getattr(settings, "TODOIST_API_TOKEN", "") or ""

    @property
    def TODOIST_TOKEN_ENCRYPTION_KEY(self) -> str:
        """Secret from which the key that encrypts per-user tokens at rest is derived."""
        return getattr(settings, "TODOIST_TOKEN_ENCRYPTION_KEY", "") or ""

    @property
    def TODOIST_TOKEN_ENCRYPTION_KEYS(self) -> list[str]:
        """Keys of per-user tokens at rest, before TODOIST_TOKEN_ENCRYPTION_KEY: the first of
        all encrypts, every one decrypts (rotation). Each a Fernet key, or a passphrase
        (stretched with scrypt). A string is split on commas; another type is left for
        `todoist_sync.E011` to report."""
        value = getattr(settings, "TODOIST_TOKEN_ENCRYPTION_KEYS", None) or []
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        if isinstance(value, list | tuple):
            return list(value)
        return value

    @property
    def TODOIST_CONNECT_TIMEOUT(self) -> float:
        return getattr(settings, "TODOIST_CONNECT_TIMEOUT", 10.0)

    @property
    def TODOIST_READ_TIMEOUT(self) -> float:
        """Doist's own SDK reads for 60 s, "aligns with Todoist's own internal timeout"."""
        return getattr(settings, "TODOIST_READ_TIMEOUT", 60.0)

    @property
    def TODOIST_PROJECT_NAME(self) -> str:
        """The Todoist project a user's tasks go to (a chat can name another); `Inbox` is the
        user's inbox. Created when missing."""
        return getattr(settings, "TODOIST_PROJECT_NAME", "Planner")

    @property
    def TODOIST_PROJECT_MAX_TASKS(self) -> int:
        """Active tasks Todoist allows in one project (300, the same on every plan)."""
        return getattr(settings, "TODOIST_PROJECT_MAX_TASKS", 300)

    @property
    def TODOIST_MAX_BODY_BYTES(self) -> int:
        """Largest `/sync` body sent, in bytes of UTF-8 JSON (Todoist refuses over 1 MiB)."""
        return getattr(settings, "TODOIST_MAX_BODY_BYTES", 1_000_000)

    @property
    def TODOIST_BLOCKED_LABEL(self) -> str:
        """Label that marks a locally blocked task, which stays open in Todoist."""
        return getattr(settings, "TODOIST_BLOCKED_LABEL", "blocked")

    @property
    def TODOIST_USE_BATCH(self) -> bool:
        """Push through `/sync` commands (documented uuid dedupe, 100 per request)."""
        return getattr(settings, "TODOIST_USE_BATCH", True)

    @property
    def TODOIST_BATCH_SIZE(self) -> int:
        """Commands per `/sync` request; Todoist accepts at most 100."""
        return getattr(settings, "TODOIST_BATCH_SIZE", 100)

    @property
    def TODOIST_RETRY_BASE_SECONDS(self) -> float:
        return getattr(settings, "TODOIST_RETRY_BASE_SECONDS", 30.0)

    @property
    def TODOIST_RETRY_CAP_SECONDS(self) -> float:
        return getattr(settings, "TODOIST_RETRY_CAP_SECONDS", 3600.0)

    @property
    def TODOIST_RETRY_MAX_ATTEMPTS(self) -> int:
        """Transient failures of one task before its error becomes permanent."""
        return getattr(settings, "TODOIST_RETRY_MAX_ATTEMPTS", 8)

    @property
    def TODOIST_RECREATE_DELETED(self) -> bool:
        """Re-create a mapped task that was deleted in Todoist instead of reporting it."""
        return getattr(settings, "TODOIST_RECREATE_DELETED", False)

    @property
    def TODOIST_DRIFT_POLICY(self) -> str:
        """What a reconcile does with a change made in Todoist (drift): `restore` sends local
        truth back in the same run, `report` only reports it (see `DriftPolicy`)."""
        return getattr(settings, "TODOIST_DRIFT_POLICY", DriftPolicy.RESTORE)

    @property
    def TODOIST_RECURRING_DONE(self) -> str:
        """What a local `done` does to a task a person made recurring in Todoist: `occurrence`
        closes this occurrence (Todoist moves the task to its next date), `complete` ends the
        recurrence (see `RecurringDone`)."""
        return getattr(settings, "TODOIST_RECURRING_DONE", RecurringDone.OCCURRENCE)

    @property
    def TODOIST_DONE_IN_TODOIST(self) -> str:
        """What a task completed in Todoist does: `drift` (TODOIST_DRIFT_POLICY decides;
        `restore` reopens it) or `adopt` (the local task becomes done; see `DoneInTodoist`)."""
        return getattr(settings, "TODOIST_DONE_IN_TODOIST", DoneInTodoist.DRIFT)

    @property
    def TODOIST_LEASE_SECONDS(self) -> float:
        """How long a run's per-user lease lasts without renewal (a dead worker's expires)."""
        return getattr(settings, "TODOIST_LEASE_SECONDS", 120.0)

    @property
    def TODOIST_RATE_LIMIT_REQUESTS(self) -> int:
        """Requests one token may send per window (Todoist allows 1000 per 15 min per user;
        the default leaves room for the person's own apps)."""
        return getattr(settings, "TODOIST_RATE_LIMIT_REQUESTS", 450)

    @property
    def TODOIST_RATE_LIMIT_FULL_SYNCS(self) -> int:
        """Full reads (`sync_token="*"`) one Todoist account may send per window, on top of
        the request budget (Todoist allows 100 full syncs per 15 minutes per user)."""
        return getattr(settings, "TODOIST_RATE_LIMIT_FULL_SYNCS", 100)

    @property
    def TODOIST_RATE_LIMIT_WINDOW(self) -> float:
        return getattr(settings, "TODOIST_RATE_LIMIT_WINDOW", 900.0)

    @property
    def TODOIST_RATE_LIMIT_MAX_WAIT(self) -> float:
        """A wait for the budget up to this long is slept in the run; longer ends the run and
        schedules the rest."""
        return getattr(settings, "TODOIST_RATE_LIMIT_MAX_WAIT", 30.0)

    @property
    def TODOIST_SYNC_ON_CHANGE(self) -> bool:
        return getattr(settings, "TODOIST_SYNC_ON_CHANGE", True)

    @property
    def TODOIST_SAFETY_NET_MINUTES(self) -> int:
        """Interval of the periodic run per user that picks up anything missed."""
        return getattr(settings, "TODOIST_SAFETY_NET_MINUTES", 60)

    @property
    def TODOIST_MAX_ROUNDS(self) -> int:
        """Plan/push rounds in one run (a reopen then a label change takes two)."""
        return getattr(settings, "TODOIST_MAX_ROUNDS", 3)

    @property
    def Q_CLUSTER(self) -> dict:
        """django-q2's settings, for the system checks only (django-q2 itself reads them once at
        import, so changing them at runtime changes nothing)."""
        return getattr(settings, "Q_CLUSTER", {})

    @property
    def TODOIST_CLOSE_ARCHIVED(self) -> bool:
        """Close the Todoist task of a task archived here (deleted through the API), so Todoist
        does not keep showing it open; un-archiving reopens it."""
        return getattr(settings, "TODOIST_CLOSE_ARCHIVED", True)

    @property
    def TODOIST_RATE_LIMIT_USER_REQUESTS(self) -> int:
        """Requests one user may spend of a shared token's window (TODOIST_API_TOKEN), so one
        busy user cannot use up everyone's budget; users with their own token are limited by
        their token's budget only."""
        return getattr(settings, "TODOIST_RATE_LIMIT_USER_REQUESTS", 100)

    @property
    def TODOIST_SHARED_TOKEN_USERS(self) -> list[str]:
        """Usernames the shared TODOIST_API_TOKEN syncs: nobody unless the operator opts users
        in (`*`: everyone without their own token). A string is split on commas; another type
        is left for `todoist_sync.E013` to report."""
        value = getattr(settings, "TODOIST_SHARED_TOKEN_USERS", "")
        if isinstance(value, str):
            value = [name.strip() for name in value.split(",")]
        if isinstance(value, list | tuple):
            return [name for name in value if name]
        return value

    @property
    def TODOIST_SHARED_PROJECT_NAME(self) -> str:
        """How the projects of a user on the shared token are named in Todoist: `{project}` is
        the name they would have on the user's own token (TODOIST_PROJECT_NAME, or a chat's),
        `{username}` and `{user_id}` the user's. Each user of the shared account gets projects
        of their own, so no user can fill another's (Todoist caps a project at 300 tasks)."""
        return getattr(settings, "TODOIST_SHARED_PROJECT_NAME", naming.DEFAULT_TEMPLATE)

    @property
    def TODOIST_SYNC_DEBOUNCE_SECONDS(self) -> float:
        """A change within this long of the user's last queued run waits for the rest of it,
        so a burst of saves becomes one run; a lone change goes at once."""
        return getattr(settings, "TODOIST_SYNC_DEBOUNCE_SECONDS", 2.0)

    @property
    def TODOIST_RUN_RETENTION_DAYS(self) -> int:
        """Finished SyncRun rows older than this are pruned by the safety-net sweep."""
        return getattr(settings, "TODOIST_RUN_RETENTION_DAYS", 30)

    @property
    def TODOIST_QUEUED_STALE_SECONDS(self) -> float:
        """A run queued longer than this is taken as lost (a killed worker's prefetched job: the
        Redis broker never delivers it again): a new trigger queues a fresh job instead of
        joining it. A slow queue costs at most a second run, which the lease makes harmless."""
        return getattr(settings, "TODOIST_QUEUED_STALE_SECONDS", 60.0)

    @property
    def TODOIST_CLIENT_ID(self) -> str:
        """The app's OAuth client id (Todoist's App Management Console). With the secret set
        too, users connect through OAuth and webhooks are answered."""
        return getattr(settings, "TODOIST_CLIENT_ID", "") or ""

    @property
    def TODOIST_CLIENT_SECRET(self) -> str:
        """The app's OAuth client secret: exchanges codes, revokes tokens, signs webhooks."""
        return getattr(settings, "TODOIST_CLIENT_SECRET", "") or ""

    @property
    def TODOIST_OAUTH_URL(self) -> str:
        """Where `/oauth/authorize` and `/oauth/access_token` are (the simulator's in tests)."""
        return getattr(settings, "TODOIST_OAUTH_URL", "https://todoist.com") or ""

    @property
    def TODOIST_OAUTH_REDIRECT_URL(self) -> str:
        """The callback's absolute URL, exactly as registered in Todoist's console."""
        return getattr(settings, "TODOIST_OAUTH_REDIRECT_URL", "") or ""

    @property
    def TODOIST_RECONCILE_HOURS(self) -> float:
        """With webhooks on, how often an OAuth-connected user's account is still read whole
        (the backstop for lost deliveries); the push safety net keeps its own interval."""
        return getattr(settings, "TODOIST_RECONCILE_HOURS", 24.0)

    @property
    def oauth_enabled(self) -> bool:
        """OAuth connect and webhooks are on: both the client id and secret are set."""
        return bool(self.TODOIST_CLIENT_ID and self.TODOIST_CLIENT_SECRET)


conf = Settings()
