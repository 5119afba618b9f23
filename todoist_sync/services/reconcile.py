"""Drift: what a person changed in Todoist, put back (TODOIST_DRIFT_POLICY=restore) or reported.

One incremental read of the account's items (a full one when no token is stored) is compared,
item by item, with each mapping's `pushed` snapshot; items no mapping knows, and mappings with
commands in flight, are left out. A restore only makes `pushed` what Todoist holds: the round's
normal planning then sends what puts local truth back. What is Todoist's to own (times,
recurrence, moves) is never drift; docs/sync.md has the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.utils import timezone

from todoist_sync import selectors
from todoist_sync.conf import DoneInTodoist, DriftPolicy, conf
from todoist_sync.events import EventBuffer, Level
from todoist_sync.exceptions import TodoistError
from todoist_sync.models import SyncRun, TodoistTaskMap
from todoist_sync.payloads import due_day, fingerprint, refinements
from todoist_sync.services.lease import fenced
from todoist_sync.services.lookup import tasks_locate
from todoist_sync.services.outcomes import OutcomePolicy
from todoist_sync.services.persistence import PushItem, mappings_save
from todoist_sync.services.projects import INBOX, ProjectDirectory
from todoist_sync.services.round import RoundState
from todoist_sync.services.transport import Transport
from todoist_sync.task_model import task_contract

# The snapshot fields a person can change in Todoist (payloads.snapshot_for), in event order.
DRIFT_FIELDS = ("content", "description", "priority", "due_date", "done", "blocked", "project")
# Ids per query when matching an answer to mappings (under SQLite's parameter limit).
ID_CHUNK = 5000


class DriftOutcome(StrEnum):
    RESTORED = "restored"
    REPORTED = "reported"
    # A change Todoist owns (a move into another project): taken as it is, whatever the policy.
    KEPT = "kept"
    # A completion made in Todoist, made local with TODOIST_DONE_IN_TODOIST=adopt.
    ADOPTED = "adopted"


@dataclass
class Drift:
    """One mapped task that Todoist no longer holds as we pushed it."""

    mapping: TodoistTaskMap
    fields: dict[str, dict[str, Any]]  # name -> {"todoist": value there, "local": value here}
    deleted: bool = False
    outcome: DriftOutcome = DriftOutcome.REPORTED

    def __post_init__(self) -> None:
        # Kept for the event: a task created again forgets its old id.
        self.todoist_id = self.mapping.todoist_task_id


@dataclass
class ReconcileResult:
    read: bool = False  # whether Todoist answered the read
    drifts: list[Drift] = field(default_factory=list)
    # Current labels of the mapped tasks the read showed, by Todoist id: a restore of the
    # blocked label needs no second read of them.
    labels: dict[str, list[str]] = field(default_factory=dict)


def remote_snapshot(item: dict[str, Any], *, project_names: dict[str, str]) -> dict[str, Any]:
    """A Todoist item in the shape of `mapping.pushed` (payloads.snapshot_for): the due's date
    (in its time zone) and, apart, its refinements (`payloads.refinements`)."""
    due = item.get("due") if isinstance(item.get("due"), dict) else None
    project_id = str(item.get("project_id") or "")
    return {
        "content": item.get("content", ""),
        "description": item.get("description") or "",
        "priority": item.get("priority"),
        "due_date": due_day(due),
        "due": refinements(due),
        "done": bool(item.get("checked")),
        "blocked": conf.TODOIST_BLOCKED_LABEL in (item.get("labels") or []),
        # A project the sync does not place tasks in is named by its id.
        "project": project_names.get(project_id, f"project id {project_id}"),
    }


def drifted_fields(pushed: dict[str, Any], remote: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields Todoist holds otherwise than we pushed them (README "Who owns which field").
    A snapshot pushed before projects were recorded has no `project`: that is not a change made
    in Todoist. A recurring task's date moves with its recurrence, and an occurrence we closed
    comes back open on its next date: neither is a change made there."""
    recurring = bool(remote.get("due") and remote["due"].get("is_recurring"))
    fields = {}
    for name in DRIFT_FIELDS:
        if name == "project" and name not in pushed:
            continue
        if name == "due_date" and recurring:
            continue
        if name == "done" and recurring and pushed.get("done") and not remote["done"]:
            continue
        if remote[name] != pushed.get(name):
            fields[name] = {"todoist": remote[name], "local": pushed.get(name)}
    return fields


class Reconciler:
    """One reconcile of one user's Todoist account, at the start of a run's first round."""

    def __init__(
        self,
        *,
        transport: Transport,
        policy: OutcomePolicy,
        projects: ProjectDirectory,
        events: EventBuffer,
        state: RoundState,
    ) -> None:
        self.transport = transport
        self.policy = policy
        self.state = state
        self.projects = projects
        self.events = events
        self.run = transport.run
        self.user_id = transport.user_id

    def reconcile(self) -> ReconcileResult:
        run = self.run
        for counter in SyncRun.DRIFT_COUNTERS:
            setattr(run, counter, 0)
        account = self.projects.account
        mapped = TodoistTaskMap.objects.filter(
            user_id=self.user_id, account=account, todoist_task_id__isnull=False
        )
        if not account.items_sync_token and not mapped.exists():
            # Nothing pushed to this account yet: nothing can have drifted, and the first push
            # reads the account whole anyway (where later reads start).
            return ReconcileResult()
        since = account.items_sync_token or "*"
        # A full read also brings the projects: a task missing from it may be in a project a
        # person archived, which leaves it alone.
        types = ["items", "projects"] if since == "*" else ["items"]
        try:
            answer = self.transport.send(
                lambda: self.transport.client.sync(sync_token=since, resource_types=types),
                full=since == "*",
            )
            if since == "*":
                self.projects.observe(answer.projects, sync_token=answer.sync_token)
            items = {str(i["id"]): i for i in answer.items if i.get("id")}
            if since == "*" or answer.full_sync:
                # Active tasks only: a completed or deleted task is simply absent from it.
                items.update(self.look_up_missing(mapped, items))
        except TodoistError as exc:
            self.transport.stop_on(exc)  # a 429 or a token problem ends the run
            self.events.add(
                Level.WARNING,
                f"Could not compare with Todoist this run ({exc.detail}); the next reconcile "
                "reads the same changes again.",
                {"status": exc.status},
            )
            return ReconcileResult()
        now = timezone.now()
        run.reconciled_at = now
        result = ReconcileResult(read=True)
        mappings = self.mappings_of(mapped, list(items))
        names = {
            p.todoist_project_id: n
            for n, p in self.projects.by_name.items()
            if p.todoist_project_id
        }
        if account.inbox_project_id:
            names[account.inbox_project_id] = INBOX
        learned = []
        for mapping in mappings:
            item = items[mapping.todoist_task_id]
            if item.get("is_deleted"):
                result.drifts.append(Drift(mapping, {}, deleted=True))
                continue
            result.labels[mapping.todoist_task_id] = list(item.get("labels") or [])
            remote = remote_snapshot(item, project_names=names)
            if remote["due"] != mapping.pushed.get("due") and (
                remote["due"] is not None or "due" in mapping.pushed
            ):
                # A time, time zone or recurrence set (or moved on) in Todoist: Todoist's to
                # own, learned so a later change of the date keeps it; never drift.
                pushed = {**mapping.pushed, "due": remote["due"]}
                mapping.pushed, mapping.pushed_fingerprint = pushed, fingerprint(pushed)
                learned.append(mapping)
            fields = drifted_fields(mapping.pushed, remote)
            if "project" in fields and not self.known_project(mapping.pushed.get("project")):
                # Our project's id is not known yet (its creation unconfirmed): a task in it
                # looks as if it were elsewhere. Not a move a person made.
                del fields["project"]
            if fields:
                result.drifts.append(Drift(mapping, fields))
        if learned:
            mappings_save(learned)
        if result.drifts:
            self.act_on(result.drifts, now=now)
        if answer.sync_token and answer.sync_token != account.items_sync_token:
            # Stored only now, after the drift is written: a crash before reads it again. Only
            # when it moved: an unchanged account costs no write (and no lease check).
            account.items_sync_token = answer.sync_token
            with fenced():
                account.save(update_fields=["items_sync_token"])
        run.drift_detected = len(result.drifts)
        run.drift_restored = sum(d.outcome == DriftOutcome.RESTORED for d in result.drifts)
        run.drift_reported = run.drift_detected - run.drift_restored
        self.transport.progress(
            f"reconcile: {len(items)} Todoist change(s) read, {run.drift_detected} task(s) "
            f"drifted; {run.drift_restored} to restore, {run.drift_reported} reported"
        )
        return result

    def known_project(self, name: str | None) -> bool:
        """Whether the project of that name has a Todoist id we know (the inbox too)."""
        if name == INBOX:
            return bool(self.projects.account.inbox_project_id)
        project = self.projects.by_name.get(name or "")
        return project is None or project.todoist_project_id is not None

    def look_up_missing(self, mapped: Any, items: dict[str, dict]) -> dict[str, dict]:
        """Mapped open tasks a full read did not list, looked up before anything is decided
        (`lookup.tasks_locate`). Tasks in a project a person archived are not looked up (left
        alone)."""
        archived = self.projects.archived_pks()
        missing = [
            m
            for m in mapped.filter(pushed__done=False).exclude(inflight__isnull=False)
            if m.todoist_task_id not in items and m.project_id not in archived
        ]
        return tasks_locate(transport=self.transport, mappings=missing)

    @staticmethod
    def mappings_of(mapped: Any, todoist_ids: list[str]) -> list[TodoistTaskMap]:
        """The mappings behind these Todoist ids (known, with nothing in flight)."""
        found: list[TodoistTaskMap] = []
        for start in range(0, len(todoist_ids), ID_CHUNK):
            chunk = todoist_ids[start : start + ID_CHUNK]
            found.extend(mapped.filter(todoist_task_id__in=chunk))
        return [m for m in found if m.pushed is not None and not m.inflight]

    def act_on(self, drifts: list[Drift], *, now: datetime) -> None:
        """Take what Todoist owns, adopt completions (if so set), restore or report the rest;
        write the mappings (fenced), and one event each."""
        restore = conf.TODOIST_DRIFT_POLICY == DriftPolicy.RESTORE
        adopt = conf.TODOIST_DONE_IN_TODOIST == DoneInTodoist.ADOPT
        deleted = [d for d in drifts if d.deleted]
        tasks = self.local_tasks(d.mapping.local_task_id for d in deleted) if restore else {}
        adopted: list[int] = []
        for drift in drifts:
            mapping = drift.mapping
            taken = self.take_owned(drift, adopt=adopt)
            if drift.outcome == DriftOutcome.ADOPTED:
                adopted.append(mapping.local_task_id)
            rest = {n: v for n, v in drift.fields.items() if n not in taken}
            if restore and rest and not drift.deleted:
                # What Todoist holds now: the normal planning sends what puts local truth back.
                pushed = {**mapping.pushed, **{n: v["todoist"] for n, v in rest.items()}}
                mapping.pushed, mapping.pushed_fingerprint = pushed, fingerprint(pushed)
                drift.outcome = DriftOutcome.RESTORED
            elif rest and not drift.deleted:
                drift.outcome = DriftOutcome.REPORTED
            elif restore and mapping.local_task_id in tasks:
                task = tasks[mapping.local_task_id]
                self.policy.gone_after_create(PushItem(task, mapping, [], mapping.pushed))
                if mapping.todoist_task_id is None:  # created again, in this very round
                    drift.outcome = DriftOutcome.RESTORED
                    self.state.followups.discard(task.id)
            mapping.last_drift = {
                "fields": drift.fields,
                "deleted": drift.deleted,
                "outcome": str(drift.outcome),
                "policy": str(conf.TODOIST_DRIFT_POLICY),
                "job_id": self.run.job_id,
            }
            mapping.last_drift_at = now
            self.report(drift)
        changed = [d.mapping for d in drifts]
        if adopted:
            with fenced():
                task_contract().mark_done(adopted)
        mappings_save(changed)
        with fenced():
            TodoistTaskMap.objects.bulk_update(changed, ["last_drift", "last_drift_at"])

    def take_owned(self, drift: Drift, *, adopt: bool) -> set[str]:
        """The drifted fields taken as Todoist holds them, whatever the policy: the project a
        person moved the task into (Todoist's), and with `adopt` a completion made there.
        Sets the drift's outcome when that is all it was."""
        mapping, fields = drift.mapping, drift.fields
        taken: set[str] = set()
        if "project" in fields:
            name = fields["project"]["todoist"]
            pushed = {**mapping.pushed, "project": name, "moved": True}
            mapping.pushed, mapping.pushed_fingerprint = pushed, fingerprint(pushed)
            # A person's own project is none of ours: it takes no room in ours.
            mapping.project = self.projects.project(name)
            taken.add("project")
        adopted = adopt and fields.get("done", {}).get("todoist") is True
        if adopted:
            pushed = {**mapping.pushed, "done": True}
            mapping.pushed, mapping.pushed_fingerprint = pushed, fingerprint(pushed)
            taken.add("done")
        if taken and taken == set(fields):
            drift.outcome = DriftOutcome.ADOPTED if adopted else DriftOutcome.KEPT
        elif adopted:
            drift.outcome = DriftOutcome.ADOPTED
        return taken

    def local_tasks(self, task_ids: Iterable[int]) -> dict[int, Any]:
        """The local tasks (as the sync reads them) of these ids, by id: one query."""
        contract = task_contract()
        scope = selectors.sync_scope_tasks(user_id=self.user_id, task_ids=list(task_ids))
        return {task.pk: contract.read(task) for task in scope}

    def report(self, drift: Drift) -> None:
        mapping = drift.mapping
        what = "deleted" if drift.deleted else "changed (" + ", ".join(drift.fields) + ")"
        if drift.outcome == DriftOutcome.ADOPTED:
            what, done = "completed", "marked done here too (TODOIST_DONE_IN_TODOIST=adopt)"
        elif drift.outcome == DriftOutcome.KEPT:
            done = "kept as it is there (Todoist's to decide)"
        elif drift.outcome == DriftOutcome.RESTORED:
            done = "local truth is sent back in this run"
        elif conf.TODOIST_DRIFT_POLICY == DriftPolicy.REPORT:
            done = "reported only (TODOIST_DRIFT_POLICY=report)"
        else:
            done = "not restored (see its error)"
        self.events.add(
            Level.WARNING,
            f"Task {mapping.local_task_id} was {what} in Todoist: {done}.",
            {
                "local_task_id": mapping.local_task_id,
                "todoist_task_id": drift.todoist_id,
                "drift": drift.fields,
                "deleted": drift.deleted,
                "outcome": str(drift.outcome),
            },
        )
