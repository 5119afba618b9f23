"""Sending a round's commands: through `/sync` batches (the default), or one task at a time.

A pusher sends, hands each answer to the `OutcomePolicy` and writes the settled mappings; it never
decides what to send. The engine picks one by its `pusher_class`. Projects a round creates go
first in its first request (`ProjectDirectory.add_commands`); later requests name them by the
real ids that request's answer gave.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from todoist_sync.conf import conf
from todoist_sync.exceptions import (
    RunStop,
    TodoistError,
    TodoistTransientError,
    TodoistValidationError,
)
from todoist_sync.services.outcomes import OutcomePolicy
from todoist_sync.services.persistence import PushItem, commands_commit, mappings_save
from todoist_sync.services.projects import ProjectDirectory
from todoist_sync.services.round import RoundState
from todoist_sync.services.transport import Transport, stop_error
from todoist_sync.todoist import MAX_SYNC_COMMANDS, SyncResult, encode_json

# `{"commands":[...]}` around the commands, and the comma after each.
ENVELOPE_BYTES = len(b'{"commands":[]}')


def body_bytes(commands: list[dict[str, Any]]) -> int:
    return sum(len(encode_json(c)) + 1 for c in commands)


class Pusher:
    def __init__(
        self,
        *,
        transport: Transport,
        policy: OutcomePolicy,
        user_id: int,
        projects: ProjectDirectory,
        state: RoundState,
    ) -> None:
        self.transport = transport
        self.policy = policy
        self.user_id = user_id
        self.projects = projects
        self.state = state

    def push(self, work: Iterable[PushItem]) -> None:
        raise NotImplementedError

    def commit(self, items: list[PushItem]) -> None:
        commands_commit(user_id=self.user_id, items=items)

    def save(self, items: list[PushItem]) -> None:
        mappings_save([item.mapping for item in items])
        self.policy.events.flush()

    def project_adds(self) -> list[dict[str, Any]]:
        return self.projects.add_commands()

    def outgoing(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Commands as sent: projects created since they were stored named by their ids."""
        return self.projects.rewrite(commands)

    def settle_adds(self, outcome: SyncResult | TodoistError) -> None:
        if isinstance(outcome, SyncResult):
            self.projects.settle_adds(outcome)


class BatchPusher(Pusher):
    """`/sync` batches, `requests_in_flight` at a time: while they are out, the next batch is
    built (from the streamed work) and committed, and answered ones are settled, so database
    work hides behind latency.

    Batches are cut at 100 commands and at TODOIST_MAX_BODY_BYTES of the body as sent; a 413
    sends the same batch again in halves. A batch that creates projects is alone in flight:
    the batches after it name those projects by the ids its answer gives. Only the HTTP calls
    run on the sender threads; every database access stays on this one.
    """

    requests_in_flight = 3

    def push(self, work: Iterable[PushItem]) -> None:
        batches = self.batches(work)
        transport = self.transport
        in_flight: deque[tuple[list[PushItem], Future, bool]] = deque()
        stops: list[TodoistError] = []
        deferred: RunStop | None = None
        number = 0
        with ThreadPoolExecutor(
            max_workers=self.requests_in_flight, thread_name_prefix="todoist-sync"
        ) as sender:
            while True:
                # Keep the pipe full, unless a stop was seen or a project is being created.
                while (
                    not stops
                    and deferred is None
                    and len(in_flight) < self.requests_in_flight
                    and not any(creates for _, _, creates in in_flight)
                ):
                    batch = next(batches, None)
                    if batch is None:
                        break
                    self.commit(batch)  # the exactly-once rule: stored before it leaves
                    try:
                        transport.acquire()  # renews the lease too
                    except RunStop as stopped:
                        deferred = stopped  # committed, not sent: the next run sends it
                        break
                    adds = self.project_adds()
                    in_flight.append((batch, self.send_async(sender, batch, adds), bool(adds)))
                if not in_flight:
                    break
                batch, future, _ = in_flight.popleft()
                outcome = transport.sync_outcome(future)
                self.settle_adds(outcome)  # later batches name new projects by their ids
                stop = stop_error(outcome)
                if stop is not None:
                    stops.append(stop)
                self.settle_batch(batch, outcome)
                number += 1
                transport.progress(
                    f"batch {number}: {sum(len(item.commands) for item in batch)} commands sent"
                )
        for extra in stops[1:]:
            transport.note_stop(extra)
        if stops:
            transport.stop_on(stops[0])
        if deferred is not None:
            raise deferred

    def batches(self, work: Iterable[PushItem]) -> Iterator[list[PushItem]]:
        """At most TODOIST_BATCH_SIZE commands and TODOIST_MAX_BODY_BYTES a batch; a task's
        commands stay together (its close may refer to its create's temp_id). A task too large
        for any request fails here, for good until it changes."""
        size = max(1, min(conf.TODOIST_BATCH_SIZE, MAX_SYNC_COMMANDS))
        adds = self.project_adds()  # they ride first in the first request
        room = conf.TODOIST_MAX_BODY_BYTES - ENVELOPE_BYTES - body_bytes(adds)
        batch: list[PushItem] = []
        limit = max(1, size - len(adds))
        used = used_bytes = 0
        for item in work:
            item_bytes = body_bytes(item.commands)
            if item_bytes > room:
                self.refuse_too_large(item)
                continue
            if batch and (used + len(item.commands) > limit or used_bytes + item_bytes > room):
                yield batch
                batch, used, used_bytes, limit = [], 0, 0, size
            batch.append(item)
            used += len(item.commands)
            used_bytes += item_bytes
        if batch:
            yield batch

    def refuse_too_large(self, item: PushItem) -> None:
        error = TodoistValidationError(
            f"too large for one Todoist request ({body_bytes(item.commands)} bytes; "
            f"the limit is {conf.TODOIST_MAX_BODY_BYTES})"
        )
        self.commit([item])  # a new task gets its mapping row, to hold the error
        self.policy.settle(item, [error] + [None] * (len(item.commands) - 1), {})
        self.save([item])

    def send_async(
        self, sender: ThreadPoolExecutor, batch: list[PushItem], first: list[dict[str, Any]]
    ) -> Future:
        """Send a batch whose commands are committed and whose request slot is taken; `first`
        (project_adds) only where they fit."""
        commands = self.outgoing([c for item in batch for c in item.commands])
        if len(first) + len(commands) <= MAX_SYNC_COMMANDS:
            commands = first + commands
        return sender.submit(self.transport.client.sync, commands)

    def settle_batch(self, batch: list[PushItem], outcome: SyncResult | TodoistError) -> None:
        if isinstance(outcome, TodoistError) and outcome.too_large:
            self.push_halves(batch)
            return
        if self.not_found_in_a_project(batch, outcome):
            self.projects.check_deleted()  # one read tells whether their project was deleted
            self.state.followups.update(self.projects.take_reset())
        for item in batch:
            if isinstance(outcome, TodoistError):
                statuses = [outcome] + [None] * (len(item.commands) - 1)
                self.policy.settle(item, statuses, {})
                continue
            statuses = [
                outcome.sync_status.get(
                    c["uuid"], TodoistTransientError("no status for the command in the answer")
                )
                for c in item.commands
            ]
            self.policy.settle(item, statuses, outcome.temp_id_mapping)
        self.save(batch)

    def push_halves(self, batch: list[PushItem]) -> None:
        """Todoist found the body too large after all: the same commands, in two requests."""
        if len(batch) == 1:
            self.refuse_too_large(batch[0])
            return
        middle = len(batch) // 2
        for half in (batch[:middle], batch[middle:]):
            self.transport.acquire()
            try:
                outcome = self.transport.client.sync(
                    self.project_adds() + self.outgoing([c for i in half for c in i.commands])
                )
            except TodoistError as exc:
                outcome = exc
            self.settle_adds(outcome)
            self.settle_batch(half, outcome)
            self.transport.stop_on(stop_error(outcome))

    @staticmethod
    def not_found_in_a_project(batch: list[PushItem], outcome: SyncResult | TodoistError) -> bool:
        """Whether a task in a project, or a project itself, was not found."""
        if not isinstance(outcome, SyncResult):
            return False
        for item in batch:
            for c in item.commands:
                status = outcome.sync_status.get(c["uuid"])
                if not isinstance(status, TodoistError):
                    continue
                if status.project_gone or (status.task_gone and item.mapping.project_id):
                    return True
        return False


class SingleTaskPusher(Pusher):
    """One request per command (TODOIST_USE_BATCH=false): creates and moves as one-command
    `/sync` requests (their uuid is what makes them exactly-once), the rest on the task
    endpoints."""

    def push(self, work: Iterable[PushItem]) -> None:
        work = list(work)
        self.commit(work)
        transport = self.transport
        adds = self.project_adds()
        if adds:
            try:
                outcome = transport.send(lambda: transport.client.sync(adds))
            except TodoistError as exc:
                transport.stop_on(exc)
            else:
                self.settle_adds(outcome)
        for number, item in enumerate(work, 1):
            statuses: list[Any] = [None] * len(item.commands)
            temp_ids: dict[str, str] = {}
            stop = None
            for index, command in enumerate(self.outgoing(item.commands)):
                try:
                    status, answer = transport.send(lambda c=command, t=temp_ids: self.call(c, t))
                except TodoistError as exc:
                    statuses[index] = stop = exc
                    break
                statuses[index] = status
                temp_ids.update(answer)
                if status != "ok" or command.get("temp_id", "") not in {"", *temp_ids}:
                    break  # an error, or a create confirmed without its id: found later
            self.policy.settle(item, statuses, temp_ids)
            self.save([item])
            if number % 100 == 0:
                transport.progress(f"{number}/{len(work)} tasks pushed")
            transport.stop_on(stop)

    def call(
        self, command: dict[str, Any], temp_ids: dict[str, str]
    ) -> tuple[str | TodoistError, dict[str, str]]:
        """Send one command; return its status and any temp id -> real id it resolved."""
        client = self.transport.client
        args = dict(command["args"])
        target = temp_ids.get(args.get("id"), args.get("id"))
        kind = command["type"]
        # The task endpoints cannot complete a recurring task, nor set a due's date with its
        # time zone and recurrence kept: those go as one-command /sync requests too.
        refined_due = isinstance(args.get("due"), dict) and len(args["due"]) > 1
        if kind in ("item_add", "item_move", "item_complete") or refined_due:
            if "id" in args:
                args["id"] = target
            result = client.sync([{**command, "args": args}])
            status = result.sync_status.get(command["uuid"]) or TodoistTransientError(
                "no status for the command in the answer"
            )
            return status, result.temp_id_mapping
        if kind == "item_update":
            args.pop("id")
            client.update_task(target, rest_payload(args))
        elif kind == "item_close":
            client.close_task(target)
        elif kind == "item_uncomplete":
            client.reopen_task(target)
        else:
            raise ValueError(f"unknown command type {kind!r}")
        return "ok", {}


def rest_payload(args: dict[str, Any]) -> dict[str, Any]:
    """`/sync` item args -> the task endpoints' fields (due object -> due_date / "no date")."""
    payload = {k: v for k, v in args.items() if k != "due"}
    if "due" in args:
        due = args["due"]
        if due is None:
            payload["due_string"] = "no date"
        else:
            payload["due_date"] = due["date"]
    return payload
