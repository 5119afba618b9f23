"""Writes of the sync: the engine that pushes local tasks to Todoist, and the services around it.

Every caller (the django-q2 job, the API, the admin action, the management command) goes through
the functions here, so they cannot drift apart.

How a run keeps its promises:

- Exactly once: before any command leaves, the commands (with their uuids) are committed on the
  task's mapping (`inflight`); a create's uuid is also its `request_id`. Until Todoist confirms
  them they are re-sent unchanged, and Todoist does not execute a uuid twice, so a crash or a
  lost answer never makes a second Todoist task.
- One run per user at a time: a lease row taken with a conditional UPDATE (works on SQLite and
  PostgreSQL alike), renewed as the run goes, and expiring if its worker dies.
- Nothing unchanged is sent: a task whose fingerprint matches the last push costs no request.
- Errors follow one policy (README "Error policy") and each is written to the mapping and to an
  `EventLog` row; no text written anywhere contains the token.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from planner.models import EventLog, Task
from planner.services import event_log
from todoist_sync import selectors
from todoist_sync.conf import conf
from todoist_sync.models import RateBudget, SyncLease, SyncRun, TodoistCredential, TodoistTaskMap
from todoist_sync.payloads import (
    CONTENT_FIELDS,
    ELIGIBLE_STATUSES,
    PayloadError,
    TaskPlan,
    fingerprint,
    item_args,
    labels_with,
    plan_task,
    resolve,
    task_snapshot,
)
from todoist_sync.todoist import (
    MAX_IDS_PER_QUERY,
    SyncResult,
    TodoistAuthError,
    TodoistClient,
    TodoistConfigurationError,
    TodoistError,
    TodoistNotFoundError,
    TodoistRateLimitedError,
    TodoistTransientError,
    TodoistValidationError,
)
from todoist_sync.tokens import TokenDecryptError, decrypt_token, encrypt_token, token_key

logger = logging.getLogger(__name__)

TOPIC = "sync.todoist"
JOB_FUNC = "todoist_sync.tasks.sync_todoist"
Map = TodoistTaskMap
State = TodoistTaskMap.SyncState
T = TypeVar("T")

# Fields a settled mapping writes back (one bulk UPDATE per batch, not one per task).
_MAP_FIELDS = [
    "todoist_task_id",
    "sync_state",
    "last_synced_at",
    "last_error",
    "request_id",
    "inflight",
    "pushed",
    "pushed_fingerprint",
    "failed_fingerprint",
    "attempts",
    "next_retry_at",
    "error_permanent",
    "updated_at",
]
_BUDGET_MARGIN_SECONDS = 1.0
_COUNTED = ("created", "updated", "closed", "reopened", "unchanged", "skipped", "failed")
_COUNTERS = {
    "item_add": "created",
    "item_update": "updated",
    "item_close": "closed",
    "item_uncomplete": "reopened",
}


class NoTodoistToken(Exception):
    """No usable token: none of the user's own, and no global TODOIST_API_TOKEN."""

    def __init__(
        self,
        message: str = "No Todoist token: connect one (PUT /v1/sync/todoist/token) "
        "or set TODOIST_API_TOKEN.",
    ) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------------------------
# Tokens


def todoist_token_for(*, user_id: int) -> str:
    """The user's own token if connected, else the global one. Raises NoTodoistToken."""
    credential = TodoistCredential.objects.filter(user_id=user_id).first()
    if credential is not None:
        try:
            return decrypt_token(credential.token_encrypted)
        except (TokenDecryptError, ImproperlyConfigured) as exc:
            # The key changed or is gone: the user's token is unusable until connected again.
            raise NoTodoistToken(f"No Todoist token: {exc}") from None
    if conf.TODOIST_API_TOKEN:
        return conf.TODOIST_API_TOKEN
    raise NoTodoistToken


def todoist_client(*, token: str) -> TodoistClient:
    return TodoistClient(
        token=token,
        base_url=conf.TODOIST_API_URL,
        connect_timeout=conf.TODOIST_CONNECT_TIMEOUT,
        read_timeout=conf.TODOIST_READ_TIMEOUT,
    )


def todoist_credential_connect(
    *, user: Any, token: str, client: TodoistClient | None = None
) -> TodoistCredential:
    """Check the token against Todoist, then store it encrypted.

    Raises ImproperlyConfigured (no encryption key: checked before the token leaves) or
    TodoistError (Todoist refused it or could not be reached).
    """
    token = token.strip()
    encrypted = encrypt_token(token)
    (client or todoist_client(token=token)).get_user()
    credential, _ = TodoistCredential.objects.update_or_create(
        user=user,
        defaults={
            "token_encrypted": encrypted,
            "token_last4": token[-4:],
            "verified_at": timezone.now(),
        },
    )
    event_log(topic=TOPIC, user=user, message=f"Todoist token …{token[-4:]} connected.")
    return credential


def todoist_credential_disconnect(*, user: Any) -> bool:
    deleted, _ = TodoistCredential.objects.filter(user=user).delete()
    if deleted:
        event_log(topic=TOPIC, user=user, message="Todoist token disconnected.")
    return bool(deleted)


# --------------------------------------------------------------------------------------------
# The per-user lease


def lease_acquire(*, user_id: int, holder: str, seconds: float | None = None) -> bool:
    """Take the user's lease if it is free or expired: one conditional UPDATE, no row locks."""
    now = timezone.now()
    try:
        SyncLease.objects.get_or_create(user_id=user_id)
    except IntegrityError:  # another worker created the row first: fine
        pass
    expires = now + timedelta(seconds=seconds or conf.TODOIST_LEASE_SECONDS)
    taken = (
        SyncLease.objects.filter(user_id=user_id)
        .filter(
            Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lt=now) | Q(holder=holder)
        )
        .update(holder=holder, expires_at=expires)
    )
    return taken == 1


def lease_renew(*, user_id: int, holder: str) -> bool:
    expires = timezone.now() + timedelta(seconds=conf.TODOIST_LEASE_SECONDS)
    return SyncLease.objects.filter(user_id=user_id, holder=holder).update(expires_at=expires) == 1


def lease_release(*, user_id: int, holder: str) -> None:
    SyncLease.objects.filter(user_id=user_id, holder=holder).update(holder="", expires_at=None)


# --------------------------------------------------------------------------------------------
# The rate budget, per token, shared by every worker through the database


def rate_budget_acquire(*, key: str) -> float:
    """Take one request slot, or say how many seconds until one frees (nothing taken then).

    A sliding log of send times: at most TODOIST_RATE_LIMIT_REQUESTS in any window of
    TODOIST_RATE_LIMIT_WINDOW seconds, so it also holds for any fixed window Todoist counts in.
    """
    limit, window = conf.TODOIST_RATE_LIMIT_REQUESTS, conf.TODOIST_RATE_LIMIT_WINDOW
    RateBudget.objects.get_or_create(key=key)
    with transaction.atomic():
        # Row lock on PostgreSQL; SQLite serialises writers (IMMEDIATE transactions) anyway.
        budget = RateBudget.objects.select_for_update().get(key=key)
        now = time.time()
        if budget.blocked_until and budget.blocked_until.timestamp() > now:
            return budget.blocked_until.timestamp() - now
        # A slot is stamped before its request leaves, Todoist counts it on arrival, which can
        # be later: a second of margin keeps any window Todoist counts in under the limit.
        span = window + _BUDGET_MARGIN_SECONDS
        stamps = [s for s in budget.stamps if s > now - span]
        if limit > 0 and len(stamps) >= limit:
            return stamps[-limit] + span - now
        stamps.append(now)
        budget.stamps = stamps
        budget.save(update_fields=["stamps"])
        return 0.0


def rate_budget_block(*, key: str, seconds: float) -> datetime:
    """Todoist said 429: nobody sends with this token before the retry-after passes."""
    until = timezone.now() + timedelta(seconds=max(seconds, 0.0))
    RateBudget.objects.get_or_create(key=key)
    RateBudget.objects.filter(key=key).filter(
        Q(blocked_until__isnull=True) | Q(blocked_until__lt=until)
    ).update(blocked_until=until)
    return until


# --------------------------------------------------------------------------------------------
# Enqueueing and scheduling


def sync_enqueue(
    *,
    user: Any,
    chat_id: int | None = None,
    task_ids: Sequence[int] | None = None,
    trigger: str = "api",
) -> SyncRun:
    """Queue a sync of the user (optionally one chat, or some tasks); answers its SyncRun.

    A trigger while a run of the same scope is still queued joins that run. Raises
    NoTodoistToken when the user has no token, so a caller never queues a job bound to fail.
    """
    todoist_token_for(user_id=user.pk)
    if task_ids is None:
        existing = selectors.queued_run(user_id=user.pk, chat_id=chat_id)
        if existing is not None:
            return existing
    run = SyncRun.objects.create(
        job_id=uuid.uuid4().hex,
        user_id=user.pk,
        chat_id=chat_id,
        task_ids=list(task_ids) if task_ids is not None else None,
        trigger=trigger,
    )
    # Never before the run row (and the change that caused it) is committed.
    transaction.on_commit(lambda: _queue_job(run))
    return run


def _queue_job(run: SyncRun) -> None:
    async_task(
        JOB_FUNC,
        run.user_id,
        chat_id=run.chat_id,
        task_ids=run.task_ids,
        job_id=run.job_id,
        task_name=run.job_id,
        group=TOPIC,
    )


def schedule_sync(*, user_id: int, at: datetime, reason: str) -> None:
    """One follow-up run of the user at `at` (django-q2 has no backoff of its own).

    One ONCE schedule per user: an earlier time replaces a later one, never the other way.
    """
    name = f"todoist-sync-user-{user_id}"
    with transaction.atomic():
        existing = Schedule.objects.select_for_update().filter(name=name).first()
        if existing is not None and existing.next_run and existing.next_run <= at:
            return
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": JOB_FUNC,
                "args": repr((user_id,)),
                "kwargs": repr({"trigger": "retry", "q_options": {"group": TOPIC}}),
                "schedule_type": Schedule.ONCE,
                "repeats": -1,
                "next_run": at,
            },
        )
    logger.info("todoist sync of user %s scheduled at %s (%s)", user_id, at.isoformat(), reason)


def safety_net_schedule(*, user_ids: Iterable[int] | None = None) -> int:
    """A periodic run per user with something to sync, picking up anything missed."""
    if user_ids is None:
        user_ids = Task.objects.values_list("user_id", flat=True).distinct()
    count = 0
    for user_id in user_ids:
        Schedule.objects.update_or_create(
            name=f"todoist-safety-net-user-{user_id}",
            defaults={
                "func": JOB_FUNC,
                "args": repr((user_id,)),
                "kwargs": repr({"trigger": "safety-net", "q_options": {"group": TOPIC}}),
                "schedule_type": Schedule.MINUTES,
                "minutes": conf.TODOIST_SAFETY_NET_MINUTES,
                "repeats": -1,
            },
        )
        count += 1
    return count


@transaction.atomic
def tasks_resync(*, tasks: Iterable[Task], trigger: str = "admin") -> int:
    """Clear the errors of these tasks' mappings (permanent ones too) and queue a sync of them;
    unmapped ones are created. All or nothing: raises NoTodoistToken before clearing anything.

    In-flight commands stay: a create is still re-sent with its own uuid, never duplicated.
    """
    by_user: dict[int, list[int]] = {}
    for task in tasks:
        by_user.setdefault(task.user_id, []).append(task.pk)
    for user_id in by_user:
        todoist_token_for(user_id=user_id)
    task_ids = [pk for pks in by_user.values() for pk in pks]
    TodoistTaskMap.objects.filter(local_task_id__in=task_ids, sync_state=State.ERROR).update(
        sync_state=State.PENDING,
        error_permanent=False,
        failed_fingerprint="",
        attempts=0,
        next_retry_at=None,
        updated_at=timezone.now(),
    )
    users = get_user_model().objects.in_bulk(list(by_user))
    for user_id, pks in by_user.items():
        sync_enqueue(user=users[user_id], task_ids=pks, trigger=trigger)
    return len(task_ids)


def mappings_resync(*, mappings: Iterable[TodoistTaskMap], trigger: str = "admin") -> int:
    """`tasks_resync` of these mappings' tasks."""
    mappings = list(mappings)
    tasks = Task.objects.filter(pk__in=[m.local_task_id for m in mappings]).only("id", "user_id")
    return tasks_resync(tasks=tasks, trigger=trigger)


# --------------------------------------------------------------------------------------------
# The engine


@dataclass
class Decision:
    """What a run does with one task this round, and why (the dry run prints these)."""

    task: Task
    mapping: TodoistTaskMap | None
    action: str  # create / update / close / reopen / resend / unchanged / skip / invalid
    reason: str
    plan: TaskPlan | None = None
    error: PayloadError | None = None


@dataclass
class _Work:
    task: Task
    mapping: TodoistTaskMap
    commands: list[dict[str, Any]]
    achieved: dict[str, Any]
    resend: bool = False  # the commands were committed by an earlier run


class _Stop(Exception):
    """Ends the run early: the rest stays pending (its commands are stored) for a later run."""

    def __init__(self, state: str, summary: str, resume_at: datetime | None = None) -> None:
        super().__init__(summary)
        self.state, self.summary, self.resume_at = state, summary, resume_at


def raw_fingerprint(task: Task) -> str:
    """Fingerprint of the local fields as they are, valid or not (a permanent error waits for
    this to change)."""
    return fingerprint(
        {
            "title": task.title,
            "description": task.description,
            "priority": task.priority,
            "due_date": task.due_date.isoformat() if task.due_date else None,
            "status": task.status,
        }
    )


def decide(
    *, task: Task, mapping: TodoistTaskMap | None, now: datetime, retry_errors: bool = False
) -> Decision:
    """Classify one task: the single place that decides, for the engine and the dry run alike."""
    if task.status not in ELIGIBLE_STATUSES:
        return Decision(task, mapping, "skip", f"unknown status {task.status!r}")
    if mapping is not None and mapping.sync_state == State.ERROR and not retry_errors:
        if mapping.error_permanent and mapping.failed_fingerprint == raw_fingerprint(task):
            return Decision(task, mapping, "skip", f"permanent error: {mapping.last_error}")
        if not mapping.error_permanent and mapping.next_retry_at and mapping.next_retry_at > now:
            return Decision(
                task, mapping, "skip", f"retrying at {mapping.next_retry_at.isoformat()}"
            )
    if mapping is not None and mapping.inflight:
        kinds = ", ".join(c["type"] for c in mapping.inflight["commands"])
        return Decision(
            task, mapping, "resend", f"unconfirmed commands re-sent as they were: {kinds}"
        )
    try:
        desired = task_snapshot(task)
    except PayloadError as exc:
        return Decision(task, mapping, "invalid", str(exc), error=exc)
    known = mapping is not None and mapping.todoist_task_id and mapping.pushed is not None
    if known and fingerprint(resolve(desired, mapping.pushed)) == mapping.pushed_fingerprint:
        return Decision(task, mapping, "unchanged", "fingerprint matches the last push")
    plan = plan_task(desired, mapping.pushed if known else None)
    if plan.create:
        return Decision(task, mapping, "create", "not in Todoist yet", plan)
    action = "close" if plan.close else "reopen" if plan.reopen else "update"
    return Decision(task, mapping, action, plan.describe(), plan)


def sync_plan(
    *,
    user_id: int,
    chat_id: int | None = None,
    task_ids: Sequence[int] | None = None,
    retry_errors: bool = False,
) -> list[Decision]:
    """What a run would do now, without sending or writing anything (`--dry-run`)."""
    tasks, maps = selectors.sync_candidates(user_id=user_id, chat_id=chat_id, task_ids=task_ids)
    now = timezone.now()
    return [
        decide(task=t, mapping=maps.get(t.id), now=now, retry_errors=retry_errors) for t in tasks
    ]


def sync_run_execute(
    *,
    user_id: int,
    chat_id: int | None = None,
    task_ids: Sequence[int] | None = None,
    job_id: str | None = None,
    trigger: str = "api",
    retry_errors: bool = False,
    client: TodoistClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
) -> SyncRun:
    """Run one sync of a user now (the job calls this; so does the command without --enqueue)."""
    run = None
    if job_id:
        run = SyncRun.objects.filter(job_id=job_id, user_id=user_id).first()
    if run is None:
        run = SyncRun.objects.create(
            job_id=job_id or uuid.uuid4().hex,
            user_id=user_id,
            chat_id=chat_id,
            task_ids=list(task_ids) if task_ids is not None else None,
            trigger=trigger,
        )
    engine = _Engine(
        run=run, retry_errors=retry_errors, client=client, sleep=sleep, progress=progress
    )
    engine.execute()
    return run


class _Engine:
    def __init__(
        self,
        *,
        run: SyncRun,
        retry_errors: bool,
        client: TodoistClient | None,
        sleep: Callable[[float], None],
        progress: Callable[[str], None] | None,
    ) -> None:
        self.run = run
        self.user_id = run.user_id
        self.retry_errors = retry_errors
        self.client = client
        self.sleep = sleep
        self.progress = progress or (lambda line: None)
        # The run row is the tally (reset: a redelivered job runs its SyncRun again).
        self.counts = run
        for counter in (*_COUNTED, "requests"):
            setattr(run, counter, 0)
        self.errors: list[str] = []
        self.holder = run.job_id
        self.budget_key = ""
        self.events: list[EventLog] = []
        self.followups: set[int] = set()
        self.renewed_at = time.monotonic()

    # -- the run ------------------------------------------------------------------------------

    def execute(self) -> None:
        run = self.run
        run.state, run.started_at, run.lease_holder = SyncRun.State.RUNNING, timezone.now(), ""
        run.save(update_fields=["state", "started_at", "lease_holder"])
        state, summary, resume_at = SyncRun.State.SUCCEEDED, "", None
        leased = False
        try:
            leased = self._take_lease()
            if not leased:
                raise _Stop(
                    SyncRun.State.DEFERRED,
                    "another sync of this user was running; this one was rescheduled",
                    timezone.now() + timedelta(seconds=5),
                )
            run.lease_holder = self.holder
            run.save(update_fields=["lease_holder"])
            # Holding the lease proves no other run of this user is alive: any still marked
            # running lost its worker, and says so instead of showing "running" forever.
            SyncRun.objects.filter(user_id=self.user_id, state=SyncRun.State.RUNNING).exclude(
                pk=run.pk
            ).update(
                state=SyncRun.State.FAILED,
                finished_at=timezone.now(),
                error_summary="the worker stopped before the run finished; a later run took over",
            )
            # Likewise runs queued long before this one: their job was lost with its worker.
            lost_before = timezone.now() - timedelta(seconds=conf.TODOIST_QUEUED_STALE_SECONDS)
            SyncRun.objects.filter(
                user_id=self.user_id, state=SyncRun.State.QUEUED, queued_at__lt=lost_before
            ).exclude(pk=run.pk).update(
                state=SyncRun.State.FAILED,
                finished_at=timezone.now(),
                error_summary="its job never reached a worker (lost); a later run took over",
            )
            self._prepare_client()
            scope = run.task_ids
            for round_no in range(conf.TODOIST_MAX_ROUNDS):
                self.followups = set()
                self._round(first=round_no == 0, task_ids=scope)
                if not self.followups:
                    break
                # Only tasks with a change left (a label after a reopen, a re-create) go again.
                scope = sorted(self.followups)
        except _Stop as stop:
            state, summary, resume_at = stop.state, stop.summary, stop.resume_at
        except Exception as exc:
            # A bug or a database failure: recorded on the run (never with secrets), then raised
            # so the queue records the failure too.
            self._flush_events()
            self._finish(SyncRun.State.FAILED, f"internal error: {type(exc).__name__}")
            if leased:
                lease_release(user_id=self.user_id, holder=self.holder)
            raise
        self._flush_events()
        if leased:
            lease_release(user_id=self.user_id, holder=self.holder)
        if state == SyncRun.State.SUCCEEDED and self.counts.failed:
            summary = summary or "; ".join(sorted(set(self.errors))[:5])
        self._schedule_follow_up(resume_at, summary)
        self._finish(state, summary)

    def _take_lease(self) -> bool:
        # A short wait covers the common case of a run that is just finishing.
        for _ in range(20):
            if lease_acquire(user_id=self.user_id, holder=self.holder):
                self.renewed_at = time.monotonic()
                return True
            self.sleep(0.5)
        return False

    def _prepare_client(self) -> None:
        try:
            token = todoist_token_for(user_id=self.user_id)
        except NoTodoistToken as exc:
            self._event(EventLog.Level.ERROR, str(exc), {})
            raise _Stop(SyncRun.State.FAILED, str(exc)) from None
        self.budget_key = token_key(token)
        if self.client is None:
            self.client = todoist_client(token=token)

    def _finish(self, state: str, summary: str) -> None:
        run = counts = self.run
        run.state, run.finished_at, run.error_summary = state, timezone.now(), summary[:2000]
        run.save()
        self.progress(
            f"done: {state}; created {counts.created}, updated {counts.updated}, "
            f"closed {counts.closed}, reopened {counts.reopened}, unchanged {counts.unchanged}, "
            f"skipped {counts.skipped}, failed {counts.failed}; {counts.requests} requests"
        )

    def _schedule_follow_up(self, resume_at: datetime | None, summary: str) -> None:
        if resume_at is not None:
            schedule_sync(user_id=self.user_id, at=resume_at, reason=summary)
        retry_at = selectors.earliest_retry_at(user_id=self.user_id)
        if retry_at is not None:
            schedule_sync(user_id=self.user_id, at=retry_at, reason="transient errors to retry")

    # -- one round: decide, store the commands, send them ---------------------------------------

    def _round(self, *, first: bool, task_ids: list[int] | None) -> None:
        """Decide, store and send one round; tasks with changes left go in `self.followups`."""
        run = self.run
        tasks, maps = selectors.sync_candidates(
            user_id=self.user_id, chat_id=run.chat_id, task_ids=task_ids
        )
        now = timezone.now()
        decisions = [
            decide(
                task=t, mapping=maps.get(t.id), now=now, retry_errors=self.retry_errors and first
            )
            for t in tasks
        ]
        unknown = [d for d in decisions if d.action == "skip" and d.reason.startswith("unknown")]
        if first:
            self.counts.unchanged += sum(d.action == "unchanged" for d in decisions)
            self.counts.skipped += sum(d.action == "skip" for d in decisions)
            if unknown:
                self._event(
                    EventLog.Level.WARNING,
                    f"Skipped {len(unknown)} task(s) in a status the sync does not know.",
                    {"tasks": [{"id": d.task.id, "status": d.task.status} for d in unknown[:100]]},
                )
        healed = [
            d.mapping
            for d in decisions
            if d.action == "unchanged" and d.mapping.sync_state != State.SYNCED
        ]
        for mapping in healed:
            self._mark_synced(mapping, mapping.pushed)
        for d in decisions:
            if d.action == "invalid":
                self._fail_invalid(d)
        work = self._store_commands(decisions)
        if healed or any(d.action == "invalid" for d in decisions):
            self._save_maps(
                healed + [d.mapping for d in decisions if d.action == "invalid" and d.mapping]
            )
        if not work:
            return
        self.progress(f"round: {len(work)} task(s) to push")
        if conf.TODOIST_USE_BATCH:
            self._push_batches(work)
        else:
            self._commit_commands(work)
            self._push_one_by_one(work)

    def _store_commands(self, decisions: list[Decision]) -> list[_Work]:
        """Turn decisions into commands (committed by `_commit_commands` before they leave)."""
        planned = [d for d in decisions if d.plan is not None]
        resend = [d for d in decisions if d.action == "resend"]
        for d in planned:
            if d.mapping is None:
                d.mapping = Map(
                    user_id=self.user_id,
                    local_task_id=d.task.id,
                    request_id=str(uuid.uuid4()),
                    sync_state=State.PENDING,
                )
            elif d.plan.create:
                # The previous create is resolved (failed for good, or deleted in Todoist):
                # a fresh uuid, since Todoist would not execute the old one again.
                d.mapping.request_id = str(uuid.uuid4())
                d.mapping.todoist_task_id = None
        labels, unread = self._read_labels([d for d in planned if d.plan.set_blocked is not None])
        work, settled = [], []  # settled: decided here, without a request
        for d in planned:
            if d.plan.set_blocked is not None and d.mapping.todoist_task_id in unread:
                # Its labels could not be read: this task fails for now (and is retried with
                # backoff) rather than be marked synced with a stale label.
                error = unread[d.mapping.todoist_task_id]
                self._settle_error(
                    d.task, d.mapping, error, achieved=d.plan.achieved, ok_add=False, remaining=[]
                )
                settled.append(d.mapping)
                continue
            if d.plan.set_blocked is not None and d.mapping.todoist_task_id not in labels:
                self._settle_error(
                    d.task,
                    d.mapping,
                    TodoistNotFoundError("not found among active Todoist tasks", status=404),
                    achieved=d.plan.achieved,
                    ok_add=False,
                    remaining=[],
                )
                settled.append(d.mapping)
                continue
            commands = self._commands_for(d.plan, d.mapping, labels.get(d.mapping.todoist_task_id))
            if not commands:  # e.g. the label was already as wanted
                self._mark_synced(d.mapping, d.plan.achieved)
                settled.append(d.mapping)
                continue
            d.mapping.inflight = {"commands": commands, "achieved": d.plan.achieved}
            work.append(_Work(d.task, d.mapping, commands, d.plan.achieved))
            if d.plan.deferred:
                self.followups.add(d.task.id)
        for d in resend:
            commands = _with_real_ids(d.mapping.inflight["commands"], d.mapping)
            work.append(_Work(d.task, d.mapping, commands, d.mapping.inflight["achieved"], True))
        self._save_maps(settled)
        self._flush_events()
        return work

    def _commit_commands(self, work: list[_Work]) -> None:
        """The exactly-once rule: a task's commands (with their uuids) are committed on its
        mapping before they are sent. Re-sent commands are stored already."""
        new = [item.mapping for item in work if item.mapping.pk is None]
        changed = [item.mapping for item in work if item.mapping.pk and not item.resend]
        with transaction.atomic():
            self._insert_maps(new)
            self._save_maps(changed)

    def _read_labels(
        self, decisions: list[Decision]
    ) -> tuple[dict[str, list[str]], dict[str, TodoistError]]:
        """Current labels of these tasks' Todoist tasks, and the read errors by Todoist id."""
        ids = [d.mapping.todoist_task_id for d in decisions]
        labels: dict[str, list[str]] = {}
        failed: dict[str, TodoistError] = {}
        for start in range(0, len(ids), MAX_IDS_PER_QUERY):
            chunk = ids[start : start + MAX_IDS_PER_QUERY]
            try:
                found = self._send(lambda chunk=chunk: self.client.list_tasks(ids=chunk))
            except TodoistError as exc:
                self._stop_on_request_error(exc)
                failed.update(dict.fromkeys(chunk, exc))
                continue
            labels.update({str(t["id"]): list(t.get("labels") or []) for t in found})
        return labels, failed

    def _commands_for(
        self, plan: TaskPlan, mapping: TodoistTaskMap, labels_now: list[str] | None
    ) -> list[dict[str, Any]]:
        def command(kind: str, args: dict[str, Any]) -> dict[str, Any]:
            return {"type": kind, "uuid": str(uuid.uuid4()), "args": args}

        commands = []
        target = mapping.todoist_task_id
        if plan.create:
            fields = {name: plan.achieved[name] for name in CONTENT_FIELDS}
            args = item_args(fields)
            if args.get("due") is None:
                args.pop("due", None)
            if plan.achieved["blocked"]:
                args["labels"] = [conf.TODOIST_BLOCKED_LABEL]
            commands.append(
                {
                    "type": "item_add",
                    "uuid": mapping.request_id,
                    "temp_id": mapping.request_id,
                    "args": args,
                }
            )
            target = mapping.request_id  # Todoist resolves a temp_id within the same request
        if plan.reopen:
            commands.append(command("item_uncomplete", {"id": target}))
        update = item_args(plan.update)
        if plan.set_blocked is not None and labels_now is not None:
            wanted = labels_with(
                labels_now, label=conf.TODOIST_BLOCKED_LABEL, present=plan.set_blocked
            )
            if wanted != labels_now:
                update["labels"] = wanted
        if update:
            commands.append(command("item_update", {"id": target, **update}))
        if plan.close:
            commands.append(command("item_close", {"id": target}))
        return commands

    # -- sending ---------------------------------------------------------------------------------

    def _send(self, call: Callable[[], T]) -> T:
        """One request, within the rate budget; a 429 blocks the budget for everyone."""
        self._acquire()
        try:
            return call()
        except TodoistRateLimitedError as exc:
            rate_budget_block(key=self.budget_key, seconds=exc.retry_after)
            raise

    def _acquire(self) -> None:
        """Take one request slot from the token's budget: sleep a short wait, stop on a long
        one."""
        while True:
            wait = rate_budget_acquire(key=self.budget_key)
            if wait <= 0:
                break
            if wait > conf.TODOIST_RATE_LIMIT_MAX_WAIT:
                raise _Stop(
                    SyncRun.State.DEFERRED,
                    f"request budget spent; the rest resumes in {wait:.0f} s",
                    timezone.now() + timedelta(seconds=wait),
                )
            self.progress(f"pacing: waiting {wait:.1f} s for the request budget")
            lease_renew(user_id=self.user_id, holder=self.holder)
            self.sleep(wait)
        self.counts.requests += 1

    def _renew_or_stop(self) -> None:
        """Renew the lease once a third of it has passed (not on every batch)."""
        if time.monotonic() - self.renewed_at < conf.TODOIST_LEASE_SECONDS / 3:
            return
        if not lease_renew(user_id=self.user_id, holder=self.holder):
            raise _Stop(SyncRun.State.FAILED, "lost the sync lease (the run took too long)")
        self.renewed_at = time.monotonic()

    def _stop_on_request_error(self, exc: TodoistError) -> None:
        """Errors that end the whole run rather than fail one task."""
        if isinstance(exc, TodoistRateLimitedError):
            resume = timezone.now() + timedelta(seconds=exc.retry_after)
            self._event(
                EventLog.Level.WARNING,
                f"Todoist rate limit: stopped; the rest resumes after {exc.retry_after:.0f} s.",
                {"retry_after": exc.retry_after, "resume_at": resume.isoformat()},
            )
            raise _Stop(SyncRun.State.DEFERRED, "Todoist rate limit reached", resume)
        if isinstance(exc, TodoistAuthError):
            self._event(EventLog.Level.ERROR, "Todoist rejected the token.", {"status": exc.status})
            raise _Stop(SyncRun.State.FAILED, "Todoist rejected the token")
        if isinstance(exc, TodoistConfigurationError):
            self._event(EventLog.Level.ERROR, exc.detail, {"status": exc.status})
            raise _Stop(SyncRun.State.FAILED, exc.detail)

    def _push_batches(self, work: list[_Work]) -> None:
        """Send `/sync` batches two deep: while one is in flight, the next one's commands are
        committed and the previous one is settled, so database work hides behind latency.

        Only the HTTP call runs on the sender thread; every database access stays here.
        """
        size = max(1, min(conf.TODOIST_BATCH_SIZE, 100))
        batches: list[list[_Work]] = [[]]
        used = 0
        for item in work:
            # A task's commands stay together: its close may refer to its create's temp_id.
            if used + len(item.commands) > size and batches[-1]:
                batches.append([])
                used = 0
            batches[-1].append(item)
            used += len(item.commands)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="todoist-sync") as sender:
            self._commit_commands(batches[0])
            self._renew_or_stop()
            self._acquire()
            in_flight = self._send_async(sender, batches[0])
            for number, batch in enumerate(batches, 1):
                following = batches[number] if number < len(batches) else None
                deferred = None
                if following:
                    # All the next batch needs before it leaves, done while this one is out.
                    self._commit_commands(following)
                    try:
                        self._renew_or_stop()
                        self._acquire()
                    except _Stop as stopped:
                        deferred, following = stopped, None  # settle this batch, then stop
                outcome = self._outcome(in_flight)
                stop = _stop_error(outcome)
                if following and stop is None:
                    in_flight = self._send_async(sender, following)
                self._settle_batch(batch, outcome)
                self.progress(
                    f"batch {number}/{len(batches)}: "
                    f"{sum(len(item.commands) for item in batch)} commands sent"
                )
                if stop is not None:
                    self._stop_on_request_error(stop)
                if deferred is not None:
                    raise deferred

    def _send_async(self, sender: ThreadPoolExecutor, batch: list[_Work]) -> Future:
        """Send a batch whose commands are committed and whose request slot is taken."""
        commands = [c for item in batch for c in item.commands]
        return sender.submit(self.client.sync, commands)

    def _outcome(self, in_flight: Future) -> SyncResult | TodoistError:
        try:
            return in_flight.result()
        except TodoistError as exc:
            if isinstance(exc, TodoistRateLimitedError):
                rate_budget_block(key=self.budget_key, seconds=exc.retry_after)
            if isinstance(exc, TodoistNotFoundError):
                # /sync itself missing is a wrong base URL, not a deleted task.
                return TodoistConfigurationError(
                    "Todoist answered 404 for /sync: check TODOIST_API_URL", status=404
                )
            return exc

    def _settle_batch(self, batch: list[_Work], outcome: SyncResult | TodoistError) -> None:
        for item in batch:
            if isinstance(outcome, TodoistError):
                statuses = [outcome] + [None] * (len(item.commands) - 1)
                self._settle(item, statuses, {})
                continue
            statuses = [
                outcome.sync_status.get(
                    c["uuid"], TodoistTransientError("no status for the command in the answer")
                )
                for c in item.commands
            ]
            self._settle(item, statuses, outcome.temp_id_mapping)
        self._save_maps([item.mapping for item in batch])
        self._flush_events()

    def _push_one_by_one(self, work: list[_Work]) -> None:
        for number, item in enumerate(work, 1):
            self._renew_or_stop()
            statuses: list[Any] = [None] * len(item.commands)
            temp_ids: dict[str, str] = {}
            stop_error = None
            for index, command in enumerate(item.commands):
                try:
                    answer = self._send(lambda c=command, t=temp_ids: self._rest_call(c, t))
                except TodoistError as exc:
                    statuses[index] = exc
                    stop_error = exc
                    break
                statuses[index] = "ok"
                if command["type"] == "item_add":
                    temp_ids[command["temp_id"]] = str(answer["id"])
            self._settle(item, statuses, temp_ids)
            self._save_maps([item.mapping])
            if number % 100 == 0:
                self.progress(f"{number}/{len(work)} tasks pushed")
            if stop_error is not None:
                self._flush_events()
                self._stop_on_request_error(stop_error)

    def _rest_call(self, command: dict[str, Any], temp_ids: dict[str, str]) -> Any:
        """A `/sync` command sent through the single-task endpoints instead."""
        args = dict(command["args"])
        target = temp_ids.get(args.get("id"), args.get("id"))
        kind = command["type"]
        if kind == "item_add":
            return self.client.create_task(_rest_payload(args), request_id=command["uuid"])
        if kind == "item_update":
            args.pop("id")
            return self.client.update_task(target, _rest_payload(args))
        if kind == "item_close":
            return self.client.close_task(target)
        if kind == "item_uncomplete":
            return self.client.reopen_task(target)
        raise ValueError(f"unknown command type {kind!r}")

    # -- settling outcomes -------------------------------------------------------------------------

    def _settle(self, item: _Work, statuses: list[Any], temp_ids: dict[str, str]) -> None:
        """Apply one task's command outcomes (in order; None = not attempted) to its mapping."""
        mapping = item.mapping
        ok_add, missing_id, error = False, False, None
        remaining = []
        for command, status in zip(item.commands, statuses, strict=True):
            if status == "ok":
                counter = _COUNTERS[command["type"]]
                setattr(self.counts, counter, getattr(self.counts, counter) + 1)
                if command["type"] == "item_add":
                    ok_add = True
                    real_id = temp_ids.get(command["temp_id"])
                    if real_id:
                        mapping.todoist_task_id = str(real_id)
                    elif not mapping.todoist_task_id:
                        missing_id = True
                continue
            if error is None and isinstance(status, TodoistError):
                error = status
            remaining.append(command)
        if error is None and not missing_id:
            self._mark_synced(mapping, item.achieved)
            return
        if missing_id:
            # Todoist says the create ran but gave no id: never create again blindly.
            error = TodoistValidationError(
                "Todoist accepted the create but did not return the new task's id; find the task "
                "in Todoist, or re-sync to ask again with the same request id"
            )
            remaining = item.commands
        self._settle_error(
            item.task,
            mapping,
            error,
            achieved=item.achieved,
            ok_add=ok_add,
            remaining=_with_real_ids(remaining, mapping),
            keep_inflight=missing_id,
        )

    def _settle_error(
        self,
        task: Task,
        mapping: TodoistTaskMap,
        error: TodoistError,
        *,
        achieved: dict[str, Any],
        ok_add: bool,
        remaining: list[dict[str, Any]],
        keep_inflight: bool = False,
    ) -> None:
        now = timezone.now()
        mapping.updated_at = now
        if isinstance(
            error, TodoistRateLimitedError | TodoistAuthError | TodoistConfigurationError
        ):
            # Not the task's fault: it stays pending with its commands, and the run stops.
            mapping.inflight = {"commands": remaining, "achieved": achieved} if remaining else None
            if mapping.sync_state != State.ERROR:
                mapping.sync_state = State.PENDING
            return
        deleted = isinstance(error, TodoistNotFoundError) and mapping.todoist_task_id and not ok_add
        if deleted and conf.TODOIST_RECREATE_DELETED:
            self._event(
                EventLog.Level.WARNING,
                f"Task {task.id} was deleted in Todoist; it will be created again.",
                {"local_task_id": task.id, "todoist_task_id": mapping.todoist_task_id},
            )
            mapping.todoist_task_id, mapping.pushed, mapping.pushed_fingerprint = None, None, ""
            mapping.inflight, mapping.request_id = None, str(uuid.uuid4())
            mapping.sync_state, mapping.attempts = State.PENDING, 0
            self.followups.add(task.id)
            return
        self.counts.failed += 1
        mapping.sync_state = State.ERROR
        if isinstance(error, TodoistTransientError):
            mapping.attempts += 1
            mapping.inflight = {"commands": remaining, "achieved": achieved} if remaining else None
            if mapping.attempts >= conf.TODOIST_RETRY_MAX_ATTEMPTS:
                mapping.error_permanent = True
                mapping.next_retry_at = None
                mapping.failed_fingerprint = raw_fingerprint(task)
                reason = f"gave up after {mapping.attempts} attempts: {error.detail}"
            else:
                delay = random.uniform(  # full jitter
                    0,
                    min(
                        conf.TODOIST_RETRY_CAP_SECONDS,
                        conf.TODOIST_RETRY_BASE_SECONDS * 2 ** (mapping.attempts - 1),
                    ),
                )
                mapping.next_retry_at = now + timedelta(seconds=delay)
                mapping.error_permanent = False
                reason = f"temporary: {error.detail}"
        elif deleted:
            mapping.inflight = None
            mapping.error_permanent = True
            mapping.next_retry_at = None
            mapping.failed_fingerprint = raw_fingerprint(task)
            reason = "deleted in Todoist (or completed there): not found"
        else:
            # Validation and anything Todoist refuses for this task: permanent until it changes.
            mapping.inflight = (
                {"commands": remaining, "achieved": achieved} if keep_inflight else None
            )
            mapping.error_permanent = True
            mapping.next_retry_at = None
            mapping.failed_fingerprint = raw_fingerprint(task)
            if ok_add and not keep_inflight:
                # The create went through; only what followed failed. Never create again.
                done_part = {**achieved, "done": False}
                mapping.pushed, mapping.pushed_fingerprint = done_part, fingerprint(done_part)
            argument = getattr(error, "argument", None)
            reason = f"validation: {argument + ': ' if argument else ''}{error.detail}"
        mapping.last_error = reason[:2000]
        self.errors.append(reason[:200])
        self._event(
            EventLog.Level.ERROR,
            f"Task {task.id} not synced: {reason}",
            {
                "local_task_id": task.id,
                "todoist_task_id": mapping.todoist_task_id,
                "error": type(error).__name__,
                "status": error.status,
                "error_tag": error.error_tag,
                "attempts": mapping.attempts,
                "next_retry_at": mapping.next_retry_at.isoformat()
                if mapping.next_retry_at
                else None,
                "permanent": mapping.error_permanent,
            },
        )

    def _fail_invalid(self, decision: Decision) -> None:
        """A task Todoist would refuse, caught before sending: permanent until it changes."""
        task, error = decision.task, decision.error
        mapping = decision.mapping
        if mapping is None:
            mapping = Map.objects.create(
                user_id=self.user_id,
                local_task_id=task.id,
                request_id=str(uuid.uuid4()),
            )
            decision.mapping = mapping
        reason = f"validation: {error}"
        self.counts.failed += 1
        self.errors.append(reason[:200])
        mapping.sync_state = State.ERROR
        mapping.error_permanent = True
        mapping.next_retry_at = None
        mapping.failed_fingerprint = raw_fingerprint(task)
        mapping.last_error = reason
        mapping.updated_at = timezone.now()
        self._event(
            EventLog.Level.ERROR,
            f"Task {task.id} not synced: {reason}",
            {"local_task_id": task.id, "field": error.field, "permanent": True},
        )

    def _mark_synced(self, mapping: TodoistTaskMap, achieved: dict[str, Any]) -> None:
        now = timezone.now()
        mapping.pushed, mapping.pushed_fingerprint = achieved, fingerprint(achieved)
        mapping.inflight = None
        mapping.sync_state = State.SYNCED
        mapping.last_synced_at = now
        mapping.last_error = ""
        mapping.attempts = 0
        mapping.next_retry_at = None
        mapping.error_permanent = False
        mapping.failed_fingerprint = ""
        mapping.updated_at = now

    def _save_maps(self, mappings: list[TodoistTaskMap]) -> None:
        """One UPDATE statement run for every row (executemany): `bulk_update` builds a CASE
        per field and row, which cost most of a 10,000-task run's time."""
        rows = [m for m in mappings if m.pk]
        if not rows:
            return
        connection = connections[router.db_for_write(Map)]
        columns, convert = _column_writers(_MAP_FIELDS, connection)
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
        # Only the model's own quoted table and column names go in the text; values are params.
        sql = f"UPDATE {quote(Map._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.executemany(sql, [[*convert(m), m.pk] for m in rows])

    def _insert_maps(self, mappings: list[TodoistTaskMap]) -> None:
        """New mappings in one INSERT run per row (executemany), then their ids in one SELECT:
        `bulk_create` spends most of its time compiling SQL, row by row."""
        if not mappings:
            return
        now = timezone.now()
        for m in mappings:
            m.created_at = m.updated_at = now
        connection = connections[router.db_for_write(Map)]
        names = ["user", "local_task", "created_at", *_MAP_FIELDS]
        columns, convert = _column_writers(names, connection)
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(Map._meta.db_table)} ({', '.join(map(quote, columns))}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        with connection.cursor() as cursor:
            cursor.executemany(sql, [convert(m) for m in mappings])
        ids = dict(
            Map.objects.filter(
                user_id=self.user_id, local_task_id__in=[m.local_task_id for m in mappings]
            ).values_list("local_task_id", "id")
        )
        for m in mappings:
            m.pk = ids[m.local_task_id]
            m._state.adding = False

    # -- events ----------------------------------------------------------------------------------

    def _event(self, level: str, message: str, data: dict[str, Any]) -> None:
        self.events.append(
            EventLog(
                user_id=self.user_id,
                level=level,
                topic=TOPIC,
                message=message,
                data={"job_id": self.run.job_id, **data},
            )
        )

    def _flush_events(self) -> None:
        if self.events:
            EventLog.objects.bulk_create(self.events, batch_size=500)
            self.events = []


def _column_writers(
    names: list[str], connection: Any
) -> tuple[list[str], Callable[[TodoistTaskMap], list[Any]]]:
    """The columns of these mapping fields, and a function giving a row's values for the
    database: what `get_db_prep_save` does, without its layers for each value."""
    fields = [Map._meta.get_field(name) for name in names]
    adapters: list[Callable[[Any], Any] | None] = []
    for f in fields:
        kind = f.get_internal_type()
        if kind == "JSONField":
            adapters.append(
                lambda v, f=f: None if v is None else connection.ops.adapt_json_value(v, f.encoder)
            )
        elif kind == "DateTimeField":
            adapters.append(connection.ops.adapt_datetimefield_value)
        else:  # ids, strings, integers and booleans go to the driver as they are
            adapters.append(None)
    attnames = [f.attname for f in fields]
    pairs = list(zip(attnames, adapters, strict=True))

    def convert(m: TodoistTaskMap) -> list[Any]:
        return [getattr(m, a) if adapt is None else adapt(getattr(m, a)) for a, adapt in pairs]

    return [f.column for f in fields], convert


def _stop_error(outcome: SyncResult | TodoistError) -> TodoistError | None:
    """The error in a batch's outcome that ends the run (a 429 or an auth refusal, of the
    request or of one of its commands), if any."""
    stopping = (TodoistRateLimitedError, TodoistAuthError, TodoistConfigurationError)
    if isinstance(outcome, TodoistError):
        return outcome if isinstance(outcome, stopping) else None
    for status in outcome.sync_status.values():
        if isinstance(status, stopping):
            return status
    return None


def _with_real_ids(commands: list[dict[str, Any]], mapping: TodoistTaskMap) -> list[dict[str, Any]]:
    """Once the create is confirmed, later commands refer to the real id, not the temp_id."""
    if not mapping.todoist_task_id:
        return commands
    fixed = []
    for command in commands:
        if command["type"] == "item_add":
            continue
        args = command["args"]
        if args.get("id") == mapping.request_id:
            command = {**command, "args": {**args, "id": mapping.todoist_task_id}}
        fixed.append(command)
    return fixed


def _rest_payload(args: dict[str, Any]) -> dict[str, Any]:
    """`/sync` item args -> the REST task endpoints' fields (due object -> due_date / "no date")."""
    payload = {k: v for k, v in args.items() if k != "due"}
    if "due" in args:
        due = args["due"]
        if due is None:
            payload["due_string"] = "no date"
        else:
            payload["due_date"] = due["date"]
    return payload
