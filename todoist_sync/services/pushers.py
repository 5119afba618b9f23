"""Sending a round's commands: through `/sync` batches (the default), or one task at a time.

A pusher sends, hands each answer to the `Settler` and writes the settled mappings; it never
decides what to send. The engine picks one by its `pusher_class`.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from todoist_sync.conf import conf
from todoist_sync.exceptions import TodoistError, TodoistTransientError
from todoist_sync.services.persistence import PushItem, commands_commit, mappings_save
from todoist_sync.services.settling import Settler
from todoist_sync.services.transport import RunStop, Transport, stop_error
from todoist_sync.todoist import MAX_SYNC_COMMANDS, SyncResult


class Pusher:
    def __init__(self, *, transport: Transport, settler: Settler, user_id: int) -> None:
        self.transport = transport
        self.settler = settler
        self.user_id = user_id

    def push(self, work: list[PushItem]) -> None:
        raise NotImplementedError

    def commit(self, items: list[PushItem]) -> None:
        commands_commit(user_id=self.user_id, items=items)

    def save(self, items: list[PushItem]) -> None:
        mappings_save([item.mapping for item in items])
        self.settler.events.flush()


class BatchPusher(Pusher):
    """`/sync` batches sent two deep: while one is in flight, the next one's commands are
    committed and the previous one is settled, so database work hides behind latency.

    Only the HTTP call runs on the sender thread; every database access stays on this one.
    """

    def push(self, work: list[PushItem]) -> None:
        batches = self.batches(work)
        transport = self.transport
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="todoist-sync") as sender:
            self.commit(batches[0])
            transport.renew_or_stop()
            transport.acquire()
            in_flight = self.send_async(sender, batches[0])
            for number, batch in enumerate(batches, 1):
                following = batches[number] if number < len(batches) else None
                deferred = None
                if following:
                    # All the next batch needs before it leaves, done while this one is out.
                    self.commit(following)
                    try:
                        transport.renew_or_stop()
                        transport.acquire()
                    except RunStop as stopped:
                        deferred, following = stopped, None  # settle this batch, then stop
                outcome = transport.sync_outcome(in_flight)
                stop = stop_error(outcome)
                if following and stop is None:
                    in_flight = self.send_async(sender, following)
                self.settle_batch(batch, outcome)
                transport.progress(
                    f"batch {number}/{len(batches)}: "
                    f"{sum(len(item.commands) for item in batch)} commands sent"
                )
                transport.stop_on(stop)
                if deferred is not None:
                    raise deferred

    @staticmethod
    def batches(work: list[PushItem]) -> list[list[PushItem]]:
        """At most TODOIST_BATCH_SIZE commands a batch; a task's commands stay together (its
        close may refer to its create's temp_id)."""
        size = max(1, min(conf.TODOIST_BATCH_SIZE, MAX_SYNC_COMMANDS))
        batches: list[list[PushItem]] = [[]]
        used = 0
        for item in work:
            if used + len(item.commands) > size and batches[-1]:
                batches.append([])
                used = 0
            batches[-1].append(item)
            used += len(item.commands)
        return batches

    def send_async(self, sender: ThreadPoolExecutor, batch: list[PushItem]) -> Future:
        """Send a batch whose commands are committed and whose request slot is taken."""
        commands = [c for item in batch for c in item.commands]
        return sender.submit(self.transport.client.sync, commands)

    def settle_batch(self, batch: list[PushItem], outcome: SyncResult | TodoistError) -> None:
        for item in batch:
            if isinstance(outcome, TodoistError):
                statuses = [outcome] + [None] * (len(item.commands) - 1)
                self.settler.settle(item, statuses, {})
                continue
            statuses = [
                outcome.sync_status.get(
                    c["uuid"], TodoistTransientError("no status for the command in the answer")
                )
                for c in item.commands
            ]
            self.settler.settle(item, statuses, outcome.temp_id_mapping)
        self.save(batch)


class SingleTaskPusher(Pusher):
    """The task endpoints, one request per command (TODOIST_USE_BATCH=false)."""

    def push(self, work: list[PushItem]) -> None:
        self.commit(work)
        transport = self.transport
        for number, item in enumerate(work, 1):
            transport.renew_or_stop()
            statuses: list[Any] = [None] * len(item.commands)
            temp_ids: dict[str, str] = {}
            stop = None
            for index, command in enumerate(item.commands):
                try:
                    answer = transport.send(lambda c=command, t=temp_ids: self.call(c, t))
                except TodoistError as exc:
                    statuses[index] = stop = exc
                    break
                statuses[index] = "ok"
                if command["type"] == "item_add":
                    temp_ids[command["temp_id"]] = str(answer["id"])
            self.settler.settle(item, statuses, temp_ids)
            self.save([item])
            if number % 100 == 0:
                transport.progress(f"{number}/{len(work)} tasks pushed")
            transport.stop_on(stop)

    def call(self, command: dict[str, Any], temp_ids: dict[str, str]) -> Any:
        """A `/sync` command sent through the single-task endpoints instead."""
        client = self.transport.client
        args = dict(command["args"])
        target = temp_ids.get(args.get("id"), args.get("id"))
        kind = command["type"]
        if kind == "item_add":
            return client.create_task(rest_payload(args), request_id=command["uuid"])
        if kind == "item_update":
            args.pop("id")
            return client.update_task(target, rest_payload(args))
        if kind == "item_close":
            return client.close_task(target)
        if kind == "item_uncomplete":
            return client.reopen_task(target)
        raise ValueError(f"unknown command type {kind!r}")


def rest_payload(args: dict[str, Any]) -> dict[str, Any]:
    """`/sync` item args -> the REST task endpoints' fields (due object -> due_date / "no date")."""
    payload = {k: v for k, v in args.items() if k != "due"}
    if "due" in args:
        due = args["due"]
        if due is None:
            payload["due_string"] = "no date"
        else:
            payload["due_date"] = due["date"]
    return payload
