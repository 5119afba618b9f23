"""Finding the tasks of creates Todoist confirmed without their id.

A replayed `item_add` (its uuid already executed: our earlier answer was lost) is answered "ok"
and, as far as anyone knows, without a `temp_id_mapping`. The task exists; creating it again
would duplicate it. One incremental read of the account's items (`POST /sync` with the stored
`sync_token`) shows what changed since; each unconfirmed create adopts the task that matches
what it sent. Only a confirmed create with no such task counts as deleted in Todoist.

Likewise a command answered "not found" proves nothing by itself (`confirm_gone`): a read of the
task decides whether it is gone.
"""

from __future__ import annotations

from typing import Any

from todoist_sync.exceptions import TodoistError
from todoist_sync.models import TodoistTaskMap
from todoist_sync.payloads import fingerprint
from todoist_sync.services.lookup import tasks_locate
from todoist_sync.services.outcomes import OutcomePolicy
from todoist_sync.services.persistence import PushItem
from todoist_sync.services.planning import with_real_ids
from todoist_sync.services.projects import ProjectDirectory
from todoist_sync.services.round import RoundState
from todoist_sync.services.transport import Transport

MATCHED_FIELDS = ("content", "description", "priority")


class UnconfirmedResolver:
    def __init__(
        self,
        *,
        transport: Transport,
        policy: OutcomePolicy,
        projects: ProjectDirectory,
        state: RoundState,
    ) -> None:
        self.transport = transport
        self.policy = policy
        self.projects = projects
        self.state = state

    def heal(self, items: list[PushItem]) -> None:
        """One read per starting point (usually one for all); each create adopts its task,
        or follows the deleted policy. The mappings are changed in memory: the engine writes
        them."""
        if not items:
            return
        by_since: dict[str, list[PushItem]] = {}
        fallback = self.projects.account.items_sync_token or "*"
        for item in items:
            since = item.mapping.inflight.get("since") or fallback
            by_since.setdefault(since, []).append(item)
        for since, group in by_since.items():
            self.heal_from(since, group)

    def heal_from(self, since: str, items: list[PushItem]) -> None:
        try:
            result = self.transport.send(
                lambda: self.transport.client.sync(sync_token=since, resource_types=["items"])
            )
        except TodoistError as exc:
            self.transport.stop_on(exc)
            for item in items:  # asked again later: the re-sent create is answered "ok" again
                self.policy.settle_error(
                    item.task,
                    item.mapping,
                    exc,
                    achieved=item.achieved,
                    ok_add=False,
                    remaining=item.mapping.inflight["commands"],
                )
            return
        candidates = [i for i in result.items if i.get("id")]
        # A task any mapping points at, any user's (users of a shared token read one account),
        # is never adopted: Todoist ids are unique, so one filter on the id covers them all.
        taken = set(
            TodoistTaskMap.objects.filter(
                todoist_task_id__in=[str(i["id"]) for i in candidates],
            ).values_list("todoist_task_id", flat=True)
        )
        for item in items:
            sent = self.sent_add(item)
            found = next(
                (c for c in candidates if str(c["id"]) not in taken and self.matches(c, sent)),
                None,
            )
            if found is None or found.get("is_deleted"):
                self.policy.gone_after_create(item)
                continue
            taken.add(str(found["id"]))
            self.adopt(item, str(found["id"]))

    def adopt(self, item: PushItem, todoist_id: str) -> None:
        mapping = item.mapping
        mapping.todoist_task_id = todoist_id
        rest = with_real_ids(mapping.inflight["commands"], mapping)
        if rest:
            # What followed the create goes next round, with the real id (same uuids).
            self.policy.created_with_more(item, rest)
        else:
            self.policy.mark_synced(mapping, item.achieved)

    def confirm_gone(self, items: list[PushItem]) -> None:
        """Tasks whose commands answered "not found": a read decides. Still active in Todoist:
        their change is planned again under fresh uuids (Todoist would answer the old ones as
        before). Completed there: Todoist's state is taken as pushed and local truth planned
        over it. Deleted there: the deleted policy."""
        if not items:
            return
        try:
            where = tasks_locate(transport=self.transport, mappings=[i.mapping for i in items])
        except TodoistError as exc:
            self.transport.stop_on(exc)
            for item in items:  # the read failed: asked again later, with backoff
                self.policy.settle_error(
                    item.task,
                    item.mapping,
                    exc,
                    achieved=item.achieved,
                    ok_add=False,
                    remaining=item.commands,
                )
            return
        for item in items:
            task = where[item.mapping.todoist_task_id]
            if task.get("is_deleted"):
                self.policy.gone_after_create(item)
            else:
                self.plan_again(item, done=True if task.get("checked") else None)

    def plan_again(self, item: PushItem, *, done: bool | None) -> None:
        """The task is in Todoist: its stored commands are dropped and the next round plans the
        change afresh from what Todoist holds (`done`: completed there, if known)."""
        mapping = item.mapping
        if done is not None and mapping.pushed is not None:
            pushed = {**mapping.pushed, "done": done}
            mapping.pushed, mapping.pushed_fingerprint = pushed, fingerprint(pushed)
        mapping.inflight = None
        self.state.followups.add(item.task.id)

    def sent_add(self, item: PushItem) -> dict[str, Any]:
        [add] = [c for c in item.mapping.inflight["commands"] if c["type"] == "item_add"]
        return self.projects.rewrite([add])[0]["args"]

    @staticmethod
    def matches(remote: dict[str, Any], sent: dict[str, Any]) -> bool:
        if any(remote.get(f, "") != sent.get(f, remote.get(f, "")) for f in MATCHED_FIELDS):
            return False
        project = sent.get("project_id")
        return project is None or str(remote.get("project_id")) == project
