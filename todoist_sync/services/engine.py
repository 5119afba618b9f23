"""The sync engine: one run of one user, from taking the lease to the summary.

How a run keeps its promises:

- Exactly once: before any command leaves, the commands (with their uuids) are committed on the
  task's mapping (`inflight`); a create's uuid is also its `request_id`. Until Todoist confirms
  them they are re-sent unchanged, and Todoist does not execute a uuid twice, so a crash or a
  lost answer never makes a second Todoist task.
- One run per user at a time: a lease row taken with a conditional UPDATE (works on SQLite and
  PostgreSQL alike), renewed as the run goes, and expiring if its worker dies.
- Nothing unchanged is sent: a task whose fingerprint matches the last push costs no request.
- Errors follow one policy (`outcomes.py`) and each is handed to the host's event log; no text
  written anywhere contains the token.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence

from django.utils import timezone

from todoist_sync import metrics
from todoist_sync.conf import conf
from todoist_sync.events import EventBuffer, Level
from todoist_sync.exceptions import LeaseLost, NoTodoistToken, RunStop, TodoistError
from todoist_sync.models import SyncRun, TodoistAccount, TodoistTaskMap
from todoist_sync.services.accounts import mappings_follow_account
from todoist_sync.services.budget import account_budget_key
from todoist_sync.services.commands import CommandBuilder
from todoist_sync.services.credentials import todoist_client, todoist_token_source
from todoist_sync.services.lease import (
    current_fence,
    fenced,
    lease_acquire,
    lease_ask_follow_up,
    lease_release,
)
from todoist_sync.services.outcomes import OutcomePolicy
from todoist_sync.services.persistence import mappings_insert, mappings_save
from todoist_sync.services.planning import Action, Decision, SkipReason, project_names, sync_plan
from todoist_sync.services.projects import ProjectDirectory, project_namer
from todoist_sync.services.pushers import BatchPusher, Pusher, SingleTaskPusher
from todoist_sync.services.reconcile import Reconciler
from todoist_sync.services.round import RoundState
from todoist_sync.services.run_records import (
    follow_up_queue,
    follow_ups_schedule,
    run_finish,
    runs_reap_lost,
)
from todoist_sync.services.transport import Transport
from todoist_sync.services.unconfirmed import UnconfirmedResolver
from todoist_sync.todoist import TodoistClient
from todoist_sync.tokens import token_key

logger = logging.getLogger(__name__)

State = TodoistTaskMap.SyncState
LEASE_HELD = "another sync of this user was running; a run follows it"


def sync_run_execute(
    *,
    user_id: int,
    chat_id: int | None = None,
    task_ids: Sequence[int] | None = None,
    job_id: str | None = None,
    trigger: str = "api",
    retry_errors: bool = False,
    reconcile: bool = False,
    client: TodoistClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
) -> SyncRun:
    """Run one sync of a user now (the job calls this; so does the command without --enqueue).
    `reconcile` (or a queued run's own flag): compare with Todoist first (`services.reconcile`)."""
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
            reconcile=reconcile,
        )
    wait = (run.not_before - timezone.now()).total_seconds() if run.not_before else 0
    if wait > 0:
        # Debounced: the changes of a burst join this run while it waits (still queued).
        sleep(min(wait, conf.TODOIST_SYNC_DEBOUNCE_SECONDS))
        run.refresh_from_db()
    # Log records of the run carry its ids (todoist_sync.metrics.RunLogFilter).
    with metrics.run_logging(job_id=run.job_id, run_id=run.pk, user_id=run.user_id):
        SyncEngine(
            run=run, retry_errors=retry_errors, client=client, sleep=sleep, progress=progress
        ).execute()
    return run


class SyncEngine:
    batch_pusher_class: type[Pusher] = BatchPusher
    single_task_pusher_class: type[Pusher] = SingleTaskPusher

    def __init__(
        self,
        *,
        run: SyncRun,
        retry_errors: bool = False,
        client: TodoistClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.run = run
        self.user_id = run.user_id
        self.holder = run.job_id
        self.retry_errors = retry_errors
        self.client = client
        self.sleep = sleep
        self.progress = progress or (lambda line: None)
        # The run row is the tally (reset: a redelivered job runs its SyncRun again).
        for counter in (*SyncRun.COUNTERS, "requests"):
            setattr(run, counter, 0)
        self.events = EventBuffer(user_id=run.user_id, job_id=run.job_id)
        self.errors: list[str] = []  # why tasks failed, every round's, for the summary
        self.transport: Transport | None = None
        self.projects: ProjectDirectory | None = None
        self.namer: Callable[[str], str] | None = None  # the projects' names in Todoist
        self.account_key = ""  # the token's hash: which TodoistAccount row is this run's
        # Labels the reconcile's read showed, by Todoist id: a relabel needs no read of them.
        self.known_labels: dict[str, list[str]] = {}

    @property
    def pusher_class(self) -> type[Pusher]:
        return self.batch_pusher_class if conf.TODOIST_USE_BATCH else self.single_task_pusher_class

    # -- the run ---------------------------------------------------------------------------------

    def execute(self) -> None:
        run = self.run
        run.state, run.started_at, run.lease_holder = SyncRun.State.RUNNING, timezone.now(), ""
        run.save(update_fields=["state", "started_at", "lease_holder"])
        fence = lease_acquire(user_id=self.user_id, holder=self.holder)
        if fence is None:
            # Another run of the user holds the lease: this one ends at once, holding no worker,
            # and asks the holder for a run when it is done (unless it is done already).
            lease_ask_follow_up(user_id=self.user_id)
            fence = lease_acquire(user_id=self.user_id, holder=self.holder)
        if fence is None:
            self.finish(SyncRun.State.DEFERRED, LEASE_HELD)
            return
        token = current_fence.set(fence)
        try:
            self.execute_leased()
        finally:
            current_fence.reset(token)

    def execute_leased(self) -> None:
        run = self.run
        state, summary, resume_at = SyncRun.State.SUCCEEDED, "", None
        run.lease_holder = self.holder
        run.save(update_fields=["lease_holder"])
        try:
            runs_reap_lost(user_id=self.user_id, keep_run_id=self.run.pk)
            self.transport = self.connect()
            self.projects = ProjectDirectory(
                user_id=self.user_id,
                account_key=self.account_key,
                transport=self.transport,
                events=self.events,
            )
            scope = run.task_ids
            left = RoundState()
            for round_no in range(conf.TODOIST_MAX_ROUNDS):
                # Creates and "not found"s the last round's reads left open are this one's.
                this = RoundState(unconfirmed=left.unconfirmed, unverified=left.unverified)
                try:
                    self.round(this, first=round_no == 0, task_ids=scope)
                finally:
                    self.errors.extend(this.errors)
                if not this.followups:
                    break
                # Only tasks with a change left (a label after a reopen, a re-create) go again.
                scope, left = sorted(this.followups), this
        except RunStop as stop:
            state, summary, resume_at = stop.state, stop.summary, stop.resume_at
        except LeaseLost:
            # It stalled past its lease and another run took over: it writes nothing more.
            self.events.flush()
            self.finish(SyncRun.State.FAILED, "lost the sync lease; another run took over")
            return
        except Exception as exc:
            # A bug or a database failure: recorded on the run (never with secrets), then raised
            # so the queue records the failure too.
            self.events.flush()
            self.finish(SyncRun.State.FAILED, f"internal error: {type(exc).__name__}")
            if lease_release(user_id=self.user_id, holder=self.holder):
                follow_up_queue(user_id=self.user_id)
            raise
        self.events.flush()
        follow_up = lease_release(user_id=self.user_id, holder=self.holder)
        if state == SyncRun.State.SUCCEEDED and run.failed:
            summary = summary or "; ".join(sorted(set(self.errors))[:5])
        follow_ups_schedule(user_id=self.user_id, resume_at=resume_at, summary=summary)
        self.finish(state, summary)
        if follow_up:
            follow_up_queue(user_id=self.user_id)

    def finish(self, state: str, summary: str) -> None:
        self.progress(run_finish(run=self.run, state=state, summary=summary))

    def connect(self) -> Transport:
        try:
            source = todoist_token_source(user_id=self.user_id)
        except NoTodoistToken as exc:
            self.events.add(Level.ERROR, exc.detail)
            raise RunStop(SyncRun.State.FAILED, exc.detail) from None
        self.namer = project_namer(user_id=self.user_id, shared=source.shared)
        self.account_key = token_key(source.token)
        # Todoist counts its limits per account: the budget is the account's once it is known
        # (every token of it shares one), the token's own until its first read tells.
        known = (
            TodoistAccount.objects.filter(user_id=self.user_id, key=self.account_key)
            .exclude(todoist_user_id="")
            .values_list("todoist_user_id", flat=True)
            .first()
        )
        return Transport(
            client=self.client or todoist_client(token=source.token),
            budget_key=account_budget_key(known) if known else self.account_key,
            run=self.run,
            events=self.events,
            sleep=self.sleep,
            progress=self.progress,
            shared=source.shared,
        )

    # -- one round: decide, store the commands, send them ----------------------------------------

    def round(self, state: RoundState, *, first: bool, task_ids: list[int] | None) -> None:
        """Decide, store and send one round. `state` is the round's own: each role records
        into it, and tasks with changes left end in its followups. The mappings settled without
        a request are written here; the pushers write each batch's as its answer comes."""
        policy = OutcomePolicy(
            run=self.run, events=self.events, projects=self.projects, state=state
        )
        if first:
            mappings_follow_account(
                user_id=self.user_id,
                account=self.projects.account,
                events=self.events,
                identify=self.projects.identify,
            )
            if self.run.reconcile:
                # Before planning: a restore is a mapping whose `pushed` now says what Todoist
                # holds, so this round's plan sends local truth back with everything else.
                reconciler = Reconciler(
                    transport=self.transport,
                    policy=policy,
                    projects=self.projects,
                    events=self.events,
                    state=state,
                )
                self.known_labels = reconciler.reconcile().labels
        decisions = sync_plan(
            user_id=self.user_id,
            chat_id=self.run.chat_id,
            task_ids=task_ids,
            retry_errors=self.retry_errors and first,
            namer=self.namer,
        )
        if first:
            self.count_skips(decisions)
        healed = [
            d.mapping
            for d in decisions
            if d.action == Action.UNCHANGED and d.mapping.sync_state != State.SYNCED
        ]
        for mapping in healed:
            policy.mark_synced(mapping, mapping.pushed)
        invalid = [d for d in decisions if d.action == Action.INVALID]
        for d in invalid:
            if d.mapping is None:  # a new task: its row holds the error
                with fenced():
                    d.mapping = TodoistTaskMap.objects.create(
                        user_id=self.user_id, local_task_id=d.task.id, request_id=str(uuid.uuid4())
                    )
            policy.fail_invalid(d)
        names = project_names(decisions)
        unreadable = None
        if names:
            try:
                self.projects.prepare(names)
            except TodoistError as exc:
                self.transport.stop_on(exc)
                unreadable = exc  # what needs a project fails for now, retried with backoff
            self.projects.count_room(names)
        mappings_save(healed + [d.mapping for d in invalid])
        to_push = sum(d.plan is not None or d.action == Action.RESEND for d in decisions)
        if to_push:
            self.progress(f"round: {to_push} task(s) to push")
            roles = {"transport": self.transport, "policy": policy, "projects": self.projects}
            pusher = self.pusher_class(user_id=self.user_id, state=state, **roles)
            # Streamed: the first request leaves once its batch is built, and the rest of
            # the commands are built while it is out.
            builder = CommandBuilder(
                user_id=self.user_id, state=state, known_labels=self.known_labels, **roles
            )
            work = builder.items(decisions, unreadable=unreadable)
            try:
                pusher.push(work)
            finally:
                work.close()
                # What was decided without a request is written even on a stop.
                self.save_settled(state.settled)
        resolver = UnconfirmedResolver(
            transport=self.transport, policy=policy, projects=self.projects, state=state
        )
        # Taken out of the state: what these reads leave unverified waits for the next round's.
        unconfirmed, state.unconfirmed = state.unconfirmed, []
        if unconfirmed:
            resolver.heal(unconfirmed)
            self.save_settled([item.mapping for item in unconfirmed])
        unverified, state.unverified = state.unverified, []
        if unverified:
            resolver.confirm_gone(unverified)
            self.save_settled([item.mapping for item in unverified])
        state.followups.update(self.projects.waiting_for_room())

    def save_settled(self, mappings: list[TodoistTaskMap]) -> None:
        """Write mappings settled in memory (new ones inserted), and the events they raised."""
        mappings_insert(user_id=self.user_id, mappings=[m for m in mappings if m.pk is None])
        mappings_save(mappings)
        self.events.flush()

    def count_skips(self, decisions: list[Decision]) -> None:
        self.run.unchanged += sum(d.action == Action.UNCHANGED for d in decisions)
        self.run.skipped += sum(d.action == Action.SKIP for d in decisions)
        unknown = [d for d in decisions if d.skip == SkipReason.UNKNOWN_STATUS]
        if unknown:
            self.events.add(
                Level.WARNING,
                f"Skipped {len(unknown)} task(s) in a status the sync does not know.",
                {"tasks": [{"id": d.task.id, "status": d.task.raw_status} for d in unknown[:100]]},
            )
