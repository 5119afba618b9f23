"""`POST /sync` of the local Todoist API simulator: batched commands and incremental reads.

A request carries `commands`, a `sync_token` (with `resource_types`), or both; commands run
first, then the read, as Todoist does. The body is JSON or form-encoded with JSON-encoded
values (`commands=<json>&sync_token=*&resource_types=<json>`), as the v1 reference shows.

A `temp_id` resolves only inside the request that defines it ("the other commands in the same
sequence could directly refer to temp_id"); a later request naming it is answered
ITEM_NOT_FOUND / PROJECT_NOT_FOUND, as for any unknown id.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from todoist_sim.store.errors import ApiError, invalid, item_not_found, too_many_requests
from todoist_sim.store.fields import json_body, project_fields, sync_fields
from todoist_sim.store.model import (
    Account,
    Outcome,
    SyncRecord,
    copy_project,
    copy_task,
    decode_sync_token,
    dumps,
    encode_sync_token,
    now_iso,
)
from todoist_sim.store.tasks import ObjectOps

if TYPE_CHECKING:
    from todoist_sim.store.state import Headers

MAX_SYNC_COMMANDS = 100
# Resource types this simulator serves; other Todoist types are accepted and answer nothing.
RESOURCES = ("items", "projects", "user")
_TASK_COMMANDS = frozenset(
    {
        "item_update",
        "item_close",
        "item_complete",
        "item_uncomplete",
        "item_reopen",
        "item_delete",
        "item_move",
    }
)


class SyncOps(ObjectOps):
    _sync_epoch: str

    def _sync(self, account: Account, headers: Headers, body: bytes) -> Outcome:
        request = _parse_request(headers, body)
        commands = request.get("commands")
        token = request.get("sync_token")
        if commands is None and token is None:
            raise invalid("commands", "is required (or a sync_token to read changes)")
        since = None
        if token is not None:
            since = None if token == "*" else decode_sync_token(token, self._sync_epoch, account)
            if since is None:
                # Before any command runs: a refused request applies nothing.
                self._count_full_sync(account)
        answer: dict[str, Any] = {}
        if commands is not None:
            answer.update(self._run_commands(account, commands))
        if token is not None:
            answer.update(self._read(account, since, request.get("resource_types")))
        else:
            answer["full_sync"] = False
        answer["sync_token"] = encode_sync_token(self._sync_epoch, account)
        return Outcome(200, dumps(answer))

    # ----- writes --------------------------------------------------------------

    def _run_commands(self, account: Account, commands: list[dict[str, Any]]) -> dict[str, Any]:
        replay_mapping = self.config.replay_temp_id_mapping
        sync_status: dict[str, Any] = {}
        mapping: dict[str, str] = {}
        # temp_id -> real id, for this request only.
        temp_ids: dict[str, str] = {}
        for command in commands:
            cmd_uuid = command["uuid"]
            temp_id = command.get("temp_id")
            record = account.sync_uuids.get(cmd_uuid)
            if record is not None:
                self.stats["dedupe_sync_uuid"] += 1
                sync_status[cmd_uuid] = record.status
                key = temp_id or record.temp_id
                if key and record.real_id and replay_mapping:
                    mapping[key] = record.real_id
                    temp_ids[key] = record.real_id
                continue
            self.stats["sync_commands_executed"] += 1
            record = SyncRecord(status="ok", temp_id=temp_id)
            try:
                record.real_id = self._run_command(account, command, temp_ids)
            except ApiError as exc:
                self.stats["sync_commands_failed"] += 1
                record.status = exc.body()
            if record.real_id and temp_id:
                mapping[temp_id] = record.real_id
                temp_ids[temp_id] = record.real_id
            account.sync_uuids[cmd_uuid] = record
            sync_status[cmd_uuid] = record.status
        return {"sync_status": sync_status, "temp_id_mapping": mapping}

    def _run_command(
        self, account: Account, command: dict[str, Any], temp_ids: Mapping[str, str]
    ) -> str | None:
        """Execute one command; answer the new object's id for item_add / project_add."""
        kind = command["type"]
        args = command.get("args", {})
        if not isinstance(args, dict):
            raise invalid("args", "expected an object")

        def resolve(value: Any) -> Any:
            return temp_ids.get(value, value) if isinstance(value, str) else value

        if kind == "item_add":
            changes = sync_fields(args, True)
            return self._create(account, changes, resolve(args.get("project_id")))["id"]
        if kind == "project_add":
            return self._create_project(account, project_fields(args))["id"]
        if kind == "project_delete":
            self._delete_project(account, resolve(args.get("id")))
            return None
        if kind in ("project_archive", "project_unarchive"):
            self._archive_project(account, resolve(args.get("id")), kind == "project_archive")
            return None
        if kind not in _TASK_COMMANDS:
            raise invalid("type", f"unknown command type {kind!r}")
        raw_id = args.get("id")
        if not isinstance(raw_id, str) or not raw_id:
            raise invalid("id", "is required")
        task = self._live_task(account, resolve(raw_id), item_not_found)
        if kind == "item_update":
            self._apply(account, task, sync_fields(args, False))
        elif kind == "item_close":
            self._close(account, task)
        elif kind == "item_complete":
            self._set_checked(account, task, True)
        elif kind in ("item_uncomplete", "item_reopen"):
            self._set_checked(account, task, False)
        elif kind == "item_move":
            if args.get("project_id") is None:
                # section_id / parent_id moves need sections and sub-tasks, not simulated.
                raise invalid("project_id", "the simulator moves tasks between projects only")
            self._move(account, task, resolve(args["project_id"]))
        else:
            self._delete_task(account, task)
        return None

    # ----- reads ---------------------------------------------------------------

    def _count_full_sync(self, account: Account) -> None:
        """Count a full sync in the account's own window (Todoist: 100 per 15 minutes per
        user); over the limit, answer 429 with how long until the oldest one leaves it."""
        limit, span = self.config.full_sync_limit, self.config.full_sync_window_seconds
        if limit is None:
            return
        now = time.monotonic()
        window = account.full_window
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) >= limit:
            self.stats["responses_429_full_sync"] += 1
            raise too_many_requests(max(1, math.ceil(window[0] + span - now)))
        window.append(now)

    def _read(self, account: Account, since: int | None, resource_types: Any) -> dict[str, Any]:
        """Everything active (`since` None: a full sync), or what changed after `since`."""
        wanted = _resource_types(resource_types)
        answer: dict[str, Any] = {"full_sync": since is None}
        if "user" in wanted:
            # The token's owner, full or incremental alike (its id tells accounts apart).
            answer["user"] = {"id": account.user_id, "inbox_project_id": account.inbox_id}
        if since is None:
            # A full sync lists the active data only (v1: "all active resource data").
            answer["full_sync_date_utc"] = now_iso()
            # Archived projects and their tasks are not active data.
            if "items" in wanted:
                answer["items"] = [
                    copy_task(t) for t in account.tasks.values() if self._visible(account, t)
                ]
            if "projects" in wanted:
                answer["projects"] = [
                    copy_project(p)
                    for p in account.projects.values()
                    if not p["is_deleted"] and not p["is_archived"]
                ]
            self.stats["sync_reads_full"] += 1
            return answer
        items: list[dict[str, Any]] = []
        projects: list[dict[str, Any]] = []
        for resource, object_id in account.changed_since(since):
            if resource == "items" and "items" in wanted:
                items.append(copy_task(account.tasks[object_id]))
            elif resource == "projects" and "projects" in wanted:
                projects.append(copy_project(account.projects[object_id]))
        if "items" in wanted:
            answer["items"] = items
        if "projects" in wanted:
            answer["projects"] = projects
        self.stats["sync_reads_incremental"] += 1
        return answer


def _parse_request(headers: Headers, body: bytes) -> dict[str, Any]:
    """The request's commands (validated), sync_token and resource_types, those present."""
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    fields: dict[str, Any]
    if content_type == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            raise invalid("commands", "body is not valid UTF-8") from None
        fields = {key: values[-1] for key, values in form.items()}
    else:
        fields = json_body(body)
    request: dict[str, Any] = {}
    if fields.get("commands") is not None:
        request["commands"] = _commands(_json_value(fields["commands"], "commands"))
    token = fields.get("sync_token")
    if token is not None:
        if not isinstance(token, str) or not token:
            raise invalid("sync_token", "expected a string")
        request["sync_token"] = token
        if fields.get("resource_types") is None:
            raise invalid("resource_types", "is required with a sync_token")
        request["resource_types"] = _json_value(fields["resource_types"], "resource_types")
    return request


def _json_value(raw: Any, argument: str) -> Any:
    # Todoist's form-encoded style: the value is a JSON string.
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            raise invalid(argument, "expected JSON") from None
    return raw


def _commands(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise invalid("commands", "expected a list of commands")
    if len(raw) > MAX_SYNC_COMMANDS:
        raise invalid("commands", f"at most {MAX_SYNC_COMMANDS} commands per request")
    # Reject malformed commands before running any, so a bad request changes nothing.
    for command in raw:
        if not isinstance(command, dict):
            raise invalid("commands", "every command must be an object")
        if not isinstance(command.get("type"), str) or not command["type"]:
            raise invalid("commands", "every command needs a string type")
        if not isinstance(command.get("uuid"), str) or not command["uuid"]:
            raise invalid("commands", "every command needs a string uuid")
        temp_id = command.get("temp_id")
        if temp_id is not None and not isinstance(temp_id, str):
            raise invalid("commands", "temp_id must be a string")
    return raw


def _resource_types(raw: Any) -> set[str]:
    """The served resource types a `resource_types` list asks for ("all", "-x" supported)."""
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise invalid("resource_types", "expected a JSON list of strings")
    wanted: set[str] = set()
    for name in raw:
        if name == "all":
            wanted.update(RESOURCES)
        elif name in RESOURCES:
            wanted.add(name)
    for name in raw:
        if name.startswith("-"):
            wanted.discard(name[1:])
    return wanted
