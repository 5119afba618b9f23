"""A round's work: its decisions turned into the commands to push, one task at a time.

New tasks get their mapping (and the create's uuid), re-creates a fresh uuid; a relabel gets
the task's current labels (one read per 100, none for labels a reconcile just read); a create,
reopen or move takes room in its project or waits; what needs no request is settled here and
recorded in the round's state, which the engine writes when the push is over. The pusher pulls
the items as it fills its batches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from todoist_sync.conf import RecurringDone, conf
from todoist_sync.exceptions import TodoistError, TodoistNotFoundError
from todoist_sync.models import TodoistTaskMap
from todoist_sync.payloads import refinements
from todoist_sync.services.outcomes import OutcomePolicy
from todoist_sync.services.persistence import PushItem, forget_todoist_id
from todoist_sync.services.planning import Action, Decision, commands_for, with_real_ids
from todoist_sync.services.projects import ProjectDirectory
from todoist_sync.services.round import RoundState
from todoist_sync.services.transport import Transport

State = TodoistTaskMap.SyncState


class CommandBuilder:
    def __init__(
        self,
        *,
        user_id: int,
        transport: Transport,
        policy: OutcomePolicy,
        projects: ProjectDirectory,
        state: RoundState,
        known_labels: dict[str, list[str]],
    ) -> None:
        self.user_id = user_id
        self.transport = transport
        self.policy = policy
        self.projects = projects
        self.state = state
        # Labels a reconcile read this run, by Todoist id: each used once, then read again.
        self.known_labels = known_labels
        # The tasks that reconcile saw: their snapshot's due is as fresh as a read.
        self.seen = set(known_labels)

    def due_unknown(self, d: Decision) -> bool:
        """Whether a task's plan needs its due as Todoist holds it, and no read of this run has
        it: a new date, or (TODOIST_RECURRING_DONE=complete) a close, which must know whether
        the task recurs there."""
        if d.plan.create or not d.mapping.todoist_task_id or d.mapping.todoist_task_id in self.seen:
            return False
        if d.plan.update.get("due_date"):
            return True
        complete = conf.TODOIST_RECURRING_DONE == RecurringDone.COMPLETE
        return d.plan.close and complete and bool(d.plan.achieved.get("due_date"))

    def items(
        self, decisions: list[Decision], *, unreadable: TodoistError | None = None
    ) -> Iterator[PushItem]:
        """Turn decisions into commands, one task at a time (committed by the pusher before
        they leave). `unreadable`: why this round's projects could not be read, if so. What is
        decided without a request goes in the round's `settled`, for the engine to write."""
        planned = [d for d in decisions if d.plan is not None]
        for d in planned:
            if d.mapping is None:
                d.mapping = TodoistTaskMap(
                    user_id=self.user_id,
                    local_task_id=d.task.id,
                    request_id=str(uuid.uuid4()),
                    sync_state=State.PENDING,
                    account=self.projects.account,
                )
            elif d.plan.create:
                # The previous create is resolved (failed for good, or deleted in Todoist):
                # a fresh uuid, since Todoist would not execute the old one again.
                d.mapping.request_id = str(uuid.uuid4())
                forget_todoist_id(d.mapping)
        # Tasks created closed first: each needs a free place in its project only for a moment,
        # so they go before the open ones fill it.
        planned.sort(key=lambda d: not (d.plan.create and d.plan.achieved["done"]))
        relabel = [d.mapping.todoist_task_id for d in planned if d.plan.set_blocked is not None]
        # Labels the reconcile just read are not read again (each used once: our own commands
        # change them).
        known = {t: self.known_labels.pop(t) for t in relabel if t in self.known_labels}
        # A new date for a task whose due a person may have refined in Todoist since we last
        # looked (a time, a recurrence): read in the same request as the labels, so the date
        # goes with what they set (`payloads.due_arg`).
        redate = [d.mapping.todoist_task_id for d in planned if self.due_unknown(d)]
        wanted = [t for t in relabel if t not in known] + [t for t in redate if t not in relabel]
        items, unread = self.transport.read_items(wanted)
        labels = {t: list(items[t].get("labels") or []) for t in relabel if t in items}
        labels.update(known)
        dues = {t: refinements(items[t].get("due")) for t in redate if t in items}
        for d in planned:
            target = d.mapping.todoist_task_id
            project = d.plan.achieved.get("project")
            if (d.plan.create or d.plan.reopen or d.plan.move) and unreadable is not None:
                self.policy.settle_error(
                    d.task, d.mapping, unreadable, achieved=d.plan.achieved, ok_add=False,
                    remaining=[],
                )  # fmt: skip
                self.state.settled.append(d.mapping)
                continue
            if d.plan.create or d.plan.reopen or d.plan.move:
                waiting = self.projects.take_room(project, stays_open=not d.plan.achieved["done"])
                if waiting:  # its project is full (or cannot be made): pending, no error
                    self.policy.wait(d.mapping, waiting, name=project)
                    self.state.settled.append(d.mapping)
                    continue
            if target in unread and target in redate:
                # Its due could not be read: not sent with a bare date that might erase what a
                # person set there; retried with backoff.
                self.policy.settle_error(
                    d.task, d.mapping, unread[target], achieved=d.plan.achieved, ok_add=False,
                    remaining=[],
                )  # fmt: skip
                self.state.settled.append(d.mapping)
                continue
            if d.plan.set_blocked is not None and target not in labels:
                # Its labels could not be read (it is retried with backoff rather than marked
                # synced with a stale label), or Todoist has no such active task.
                error = unread.get(target) or TodoistNotFoundError(
                    "not found among active Todoist tasks", status=404
                )
                self.policy.settle_error(
                    d.task, d.mapping, error, achieved=d.plan.achieved, ok_add=False, remaining=[]
                )
                self.state.settled.append(d.mapping)
                continue
            commands = commands_for(
                d.plan,
                d.mapping,
                labels.get(target),
                project_id=self.projects.ref(project),
                due_now=dues.get(target),
            )
            if not commands:  # e.g. the label was already as wanted
                self.policy.mark_synced(d.mapping, d.plan.achieved)
                self.state.settled.append(d.mapping)
                continue
            d.mapping.inflight = {"commands": commands, "achieved": d.plan.achieved}
            if d.plan.create and self.projects.account.items_sync_token:
                # Where a read finds this create, if Todoist confirms it without its id.
                d.mapping.inflight["since"] = self.projects.account.items_sync_token
            if d.plan.deferred:
                self.state.followups.add(d.task.id)
            yield PushItem(d.task, d.mapping, commands, d.plan.achieved)
        for d in decisions:
            if d.action != Action.RESEND:
                continue
            achieved = d.mapping.inflight["achieved"]
            if d.mapping.inflight.get("add_confirmed") and not d.mapping.todoist_task_id:
                # Created in Todoist, id unknown: found by this round's read, not re-sent.
                item = PushItem(d.task, d.mapping, d.mapping.inflight["commands"], achieved)
                self.state.unconfirmed.append(item)
                continue
            commands = with_real_ids(d.mapping.inflight["commands"], d.mapping)
            held: list[dict] = []
            if not d.mapping.todoist_task_id and any(c["type"] == "item_add" for c in commands):
                # The create went out before and its answer never came: Todoist may have run it,
                # and then its replay is answered "ok" without defining its temp_id in this
                # request. A command naming that temp_id would answer "not found", and Todoist
                # would remember that answer under the command's uuid. So the create goes alone;
                # what follows it waits for its id (from the replay, or from the healing read).
                # Only a lost answer costs this extra request: a first send keeps its commands
                # together, since a create never sent before defines its temp_id in that request.
                held = [c for c in commands if c["type"] != "item_add"]
                commands = [c for c in commands if c["type"] == "item_add"]
            yield PushItem(d.task, d.mapping, commands, achieved, resend=True, held=held)
