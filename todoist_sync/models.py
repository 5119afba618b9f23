"""What the sync remembers: the local -> Todoist mapping, runs, leases, rate budgets, tokens."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from todoist_sync.conf import conf
from todoist_sync.task_model import task_contract


class TodoistTaskMap(models.Model):
    """The one reference from a local task to its Todoist task.

    The row (with its `request_id`) is committed before the create leaves, so a crash between
    Todoist's answer and our commit is finished by re-sending the same id, never by a second create.
    """

    class SyncState(models.TextChoices):
        PENDING = "pending", _("Pending")
        SYNCED = "synced", _("Synced")
        ERROR = "error", _("Error")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="todoist_task_maps",
        verbose_name=_("user"),
    )
    local_task = models.ForeignKey(
        conf.TODOIST_SYNC_TASK_MODEL,
        on_delete=models.CASCADE,
        related_name="todoist_maps",
        verbose_name=_("local task"),
    )
    # Todoist v1 ids are opaque strings; NULL (not "") until the create is confirmed, so the
    # unique (user, todoist_task_id) constraint ignores the rows still waiting for one.
    todoist_task_id = models.CharField(  # noqa: DJ001
        _("Todoist task id"), max_length=64, null=True, blank=True
    )
    sync_state = models.CharField(
        _("sync state"), max_length=16, choices=SyncState.choices, default=SyncState.PENDING
    )
    last_synced_at = models.DateTimeField(_("last synced at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # Idempotency: the create's uuid, sent as its `/sync` command uuid (and temp_id).
    request_id = models.CharField(_("create request id"), max_length=36)
    # The commands sent and not yet confirmed; re-sent unchanged (same uuids) until they resolve.
    inflight = models.JSONField(_("commands in flight"), null=True, blank=True)
    # What Todoist holds as far as we know, and its fingerprint (unchanged task -> no request).
    pushed = models.JSONField(_("last pushed fields"), null=True, blank=True)
    pushed_fingerprint = models.CharField(_("last pushed fingerprint"), max_length=64, blank=True)
    # The local fields a permanent error was recorded for: tried again once they change.
    failed_fingerprint = models.CharField(_("failed fingerprint"), max_length=64, blank=True)
    attempts = models.PositiveIntegerField(_("failed attempts"), default=0)
    next_retry_at = models.DateTimeField(_("next retry at"), null=True, blank=True)
    error_permanent = models.BooleanField(_("permanent error"), default=False)
    # The Todoist project the task is placed in (or is going to); NULL before projects existed.
    project = models.ForeignKey(
        "TodoistProject",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mappings",
        verbose_name=_("Todoist project"),
    )
    # The Todoist account the task lives in; a token of another account starts afresh there.
    account = models.ForeignKey(
        "TodoistAccount",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mappings",
        verbose_name=_("Todoist account"),
    )
    # Why a pending task waits without being an error (its project is full): no attempts used.
    waiting_reason = models.CharField(_("waiting because"), max_length=200, blank=True)
    # The last change made in Todoist that a reconcile found (`services.reconcile`): the fields
    # with their values there and here, and what was done about it (restored or reported).
    last_drift = models.JSONField(_("last drift found in Todoist"), null=True, blank=True)
    last_drift_at = models.DateTimeField(_("last drift found at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Todoist task mapping")
        verbose_name_plural = _("Todoist task mappings")
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "local_task"], name="todoist_map_user_task_uniq"
            ),
            models.UniqueConstraint(
                fields=["user", "todoist_task_id"],
                condition=Q(todoist_task_id__isnull=False),
                name="todoist_map_user_todoist_id_uniq",
            ),
        ]
        indexes = [
            # Status counts and the retry sweep read by user and state.
            models.Index(
                fields=["user", "sync_state", "error_permanent"], name="todoist_map_user_state"
            ),
            models.Index(fields=["user", "-updated_at"], name="todoist_map_user_recent"),
            models.Index(fields=["next_retry_at"], name="todoist_map_next_retry"),
            models.Index(fields=["todoist_task_id"], name="todoist_map_todoist_id"),
        ]

    def __str__(self) -> str:
        return f"task {self.local_task_id} -> {self.todoist_task_id or '(not created)'}"

    @property
    def task_title(self) -> str:
        return getattr(self.local_task, task_contract().title)

    @property
    def todoist_url(self) -> str | None:
        if not self.todoist_task_id:
            return None
        return f"https://app.todoist.com/app/task/{self.todoist_task_id}"


class TodoistAccount(models.Model):
    """One user's Todoist account as the sync knows it, keyed by a hash of the token (never the
    token): where incremental reads resume, and the account's inbox."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="todoist_accounts"
    )
    key = models.CharField(_("token key"), max_length=64)
    # Todoist's incremental read positions, one per resource type ("" until the first read).
    items_sync_token = models.TextField(_("items sync token"), blank=True)
    projects_sync_token = models.TextField(_("projects sync token"), blank=True)
    inbox_project_id = models.CharField(_("inbox project id"), max_length=64, blank=True)
    # The Todoist user the token belongs to: two tokens of one user are one account.
    todoist_user_id = models.CharField(_("Todoist user id"), max_length=64, blank=True)
    # Set when this account took over from another one: the user's tasks were created afresh.
    replaced_at = models.DateTimeField(_("replaced another account at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Todoist account")
        verbose_name_plural = _("Todoist accounts")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="todoist_account_user_key_uniq")
        ]

    def __str__(self) -> str:
        return f"Todoist account {self.key[:8]} of user {self.user_id}"


class TodoistProject(models.Model):
    """A Todoist project the sync places tasks in, by name, in one account."""

    account = models.ForeignKey(TodoistAccount, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(_("name"), max_length=120)
    # NULL until found in Todoist or created there.
    todoist_project_id = models.CharField(  # noqa: DJ001
        _("Todoist project id"), max_length=64, null=True, blank=True
    )
    # The project_add uuid (and temp_id) while the creation is unconfirmed: re-sent unchanged.
    request_id = models.CharField(_("create request id"), max_length=36, blank=True)
    # Set when Todoist says the project holds its maximum of active tasks; cleared by a close.
    full_since = models.DateTimeField(_("full since"), null=True, blank=True)
    # Set when a person archived the project in Todoist: its new tasks wait (never a second
    # project, never unarchived by us); cleared once a read finds it unarchived.
    archived_at = models.DateTimeField(_("archived in Todoist at"), null=True, blank=True)
    # Why no task can go in (Todoist refused to create it), shown with the waiting tasks.
    refused_reason = models.CharField(_("refused because"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("Todoist project")
        verbose_name_plural = _("Todoist projects")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"], name="todoist_project_account_name_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"Todoist project {self.name!r}"


class TodoistChatProject(models.Model):
    """The Todoist project a chat's tasks go to, instead of TODOIST_PROJECT_NAME."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="todoist_chat_projects"
    )
    chat_id = models.BigIntegerField(_("Telegram chat id"))
    project_name = models.CharField(_("Todoist project"), max_length=120)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("chat's Todoist project")
        verbose_name_plural = _("chats' Todoist projects")
        constraints = [
            models.UniqueConstraint(fields=["user", "chat_id"], name="todoist_chat_project_uniq")
        ]

    def __str__(self) -> str:
        return f"chat {self.chat_id} -> {self.project_name!r}"


class SyncRun(models.Model):
    """One run of the `sync.todoist` job: what it did, for the status endpoint and the admin."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        # Another run of the same user held the lease; this one did nothing and rescheduled.
        DEFERRED = "deferred", _("Deferred")

    # The run's tallies, in the order the admin and the API show them: what was done to tasks,
    # and what a reconcile found (the one list every reader of a run uses).
    COUNTERS = ("created", "updated", "closed", "reopened", "unchanged", "skipped", "failed")
    DRIFT_COUNTERS = ("drift_detected", "drift_restored", "drift_reported")

    job_id = models.CharField(_("job id"), max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="todoist_sync_runs"
    )
    chat_id = models.BigIntegerField(_("chat scope"), null=True, blank=True)
    task_ids = models.JSONField(_("task scope"), null=True, blank=True)
    trigger = models.CharField(_("trigger"), max_length=32, default="api")
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    queued_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    # A run queued right after another one waits until then, so a burst becomes one run.
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(_("Todoist requests"), default=0)
    # Compare Todoist with what the sync pushed (one read) before pushing: set by the
    # safety net, `--reconcile`, the admin action and the API; a widened run keeps it.
    reconcile = models.BooleanField(_("reconcile with Todoist"), default=False)
    # When the reconcile's read answered (NULL: no reconcile, or the read failed).
    reconciled_at = models.DateTimeField(_("reconciled at"), null=True, blank=True)
    drift_detected = models.PositiveIntegerField(_("drifted tasks found"), default=0)
    drift_restored = models.PositiveIntegerField(_("drifted tasks restored"), default=0)
    drift_reported = models.PositiveIntegerField(_("drifted tasks reported only"), default=0)
    lease_holder = models.CharField(_("lease holder"), max_length=64, blank=True)
    error_summary = models.TextField(_("error summary"), blank=True)

    class Meta:
        verbose_name = _("Todoist sync run")
        verbose_name_plural = _("Todoist sync runs")
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["user", "-queued_at"], name="todoist_run_user_recent")]

    def __str__(self) -> str:
        return f"sync {self.job_id} ({self.state})"


class SyncLease(models.Model):
    """At most one run per user pushes at a time; an unrenewed lease expires with its worker."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="todoist_sync_lease"
    )
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Raised by every acquisition: a run writes only while the fence is still its own, so a
    # run that stalled past its lease cannot overwrite what the next run wrote.
    fence = models.PositiveBigIntegerField(default=0)
    # A run found the lease held and ended at once: the holder queues a run when it is done.
    follow_up = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"lease of user {self.user_id}: {self.holder or 'free'}"


class RateBudget(models.Model):
    """Requests sent per Todoist token (keyed by a hash, never the token), shared by all workers."""

    key = models.CharField(max_length=64, unique=True)
    # Send times (epoch seconds) within the current window: a sliding log.
    stamps = models.JSONField(default=list)
    # Set from a 429's retry-after: nothing is sent before it.
    blocked_until = models.DateTimeField(null=True, blank=True)
    # A shared token's window by user: {"<user id>": [send times]}, and the users refused a
    # slot who are coming back for one: {"<user id>": epoch seconds their claim lasts}.
    shares = models.JSONField(default=dict)
    waiting = models.JSONField(default=dict)
    # Last slot taken, refusal or block: a row untouched for a window is empty and is pruned.
    touched_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # While the window is full: when its next slot frees (what /healthz reports as spent).
    spent_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"budget {self.key[:8]}"


class TodoistCredential(models.Model):
    """A user's own Todoist token, encrypted at rest; only its last four characters are shown."""

    class Kind(models.TextChoices):
        TOKEN = "token", _("Pasted personal token")
        OAUTH = "oauth", _("Connected through OAuth")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="todoist_credential"
    )
    token_encrypted = models.TextField()
    token_last4 = models.CharField(max_length=4)
    verified_at = models.DateTimeField(null=True, blank=True)
    # OAuth tokens are the app's to revoke on disconnect; pasted ones are the person's.
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.TOKEN)
    # Whose Todoist account the token opens: a webhook's `user_id` finds the user by it.
    todoist_user_id = models.CharField(
        _("Todoist user id"), max_length=64, blank=True, db_index=True
    )
    # Webhooks about this user's account: the last one, and those that queued a reconcile or
    # were ignored (an echo of our own write, an item no mapping knows, a repeat).
    webhook_at = models.DateTimeField(_("last webhook at"), null=True, blank=True)
    webhooks_accepted = models.PositiveIntegerField(_("webhooks accepted"), default=0)
    webhooks_ignored = models.PositiveIntegerField(_("webhooks ignored"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("Todoist credential")
        verbose_name_plural = _("Todoist credentials")

    def __str__(self) -> str:
        return f"Todoist token …{self.token_last4} of user {self.user_id}"


class TodoistOAuthState(models.Model):
    """One `state` of an OAuth connect: random, single-use, bound to the user, expiring. Only its
    digest is stored, so the table cannot be replayed from a database copy."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="todoist_oauth_states"
    )
    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("Todoist OAuth state")
        verbose_name_plural = _("Todoist OAuth states")
        indexes = [models.Index(fields=["expires_at"], name="todoist_oauth_state_expiry")]

    def __str__(self) -> str:
        return f"OAuth state of user {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class TodoistRevocation(models.Model):
    """An OAuth token disconnected here and still to be revoked at Todoist: no user's sync uses
    it any more; it waits encrypted until Todoist confirms, then the row goes."""

    token_encrypted = models.TextField()
    token_last4 = models.CharField(max_length=4)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("Todoist token revocation")
        verbose_name_plural = _("Todoist token revocations")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"revocation of …{self.token_last4}"


class TodoistWebhookDelivery(models.Model):
    """A webhook delivery seen (by X-Todoist-Delivery-ID): a repeat is ignored. Pruned after a
    couple of days (Todoist retries for 45 minutes)."""

    delivery_id = models.CharField(max_length=128, unique=True)
    received_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.delivery_id


class TodoistWebhookCounter(models.Model):
    """Webhook deliveries by outcome, for /metrics: `accepted`, `ignored`, `rejected`."""

    name = models.CharField(max_length=16, primary_key=True)
    count = models.PositiveBigIntegerField(default=0)
    last_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.count}"
