"""Writing a run's mappings: the exactly-once commit before sending, and batched updates.

Every write is fenced: it happens in one transaction with a check that the run still holds its
user's lease. Hand-written statements: `bulk_update` builds a CASE per field and row and
`bulk_create` compiles SQL row by row, which cost most of a 10,000-task run's time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, router
from django.db.models import QuerySet
from django.utils import timezone

from todoist_sync.models import TodoistTaskMap
from todoist_sync.services.lease import fenced
from todoist_sync.task_model import LocalTask

Map = TodoistTaskMap

# Fields a settled mapping writes back (one UPDATE run per batch, not one per task).
MAP_FIELDS = [
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
    "project",
    "account",
    "waiting_reason",
    "updated_at",
]


@dataclass
class PushItem:
    """One task's commands this round, and what Todoist holds once they are all confirmed."""

    task: LocalTask
    mapping: TodoistTaskMap
    commands: list[dict[str, Any]]
    achieved: dict[str, Any]
    resend: bool = False  # the commands were committed by an earlier run
    # Stored commands held back this round: they name a create whose id is not known yet, and
    # go (with the real id, under their own uuids) once a replay or a read gives it.
    held: list[dict[str, Any]] = field(default_factory=list)


def forget_todoist_id(mapping: TodoistTaskMap) -> None:
    """Clear a mapping's Todoist id on purpose (its task is gone there). Any other write keeps
    a stored id: a run that read the mapping before the id arrived cannot erase it."""
    mapping.todoist_task_id = None
    mapping.todoist_id_forgotten = True


def mappings_reset(mappings: QuerySet[TodoistTaskMap], **also: Any) -> int:
    """These mappings' tasks are gone from the Todoist account they go to (their project was
    deleted, or it is another account): pending, created afresh by the next round. One UPDATE;
    return how many."""
    return mappings.update(
        todoist_task_id=None,
        pushed=None,
        pushed_fingerprint="",
        inflight=None,
        sync_state=TodoistTaskMap.SyncState.PENDING,
        waiting_reason="",
        last_error="",
        attempts=0,
        error_permanent=False,
        failed_fingerprint="",
        next_retry_at=None,
        updated_at=timezone.now(),
        **also,
    )


def mappings_save(mappings: list[TodoistTaskMap]) -> None:
    """Write these stored mappings back, if the run still holds its lease: on SQLite one
    UPDATE ... FROM (VALUES ...) statement, elsewhere one UPDATE run for every row
    (executemany). One statement matters on SQLite: its driver gives up the GIL on every row it
    steps, and each time the sender thread may keep it for a whole switch interval."""
    rows = [m for m in mappings if m.pk]
    if not rows:
        return
    connection = connections[router.db_for_write(Map)]
    columns, convert = _column_writers(MAP_FIELDS, connection)
    quote = connection.ops.quote_name
    table = quote(Map._meta.db_table)
    tid = quote("todoist_task_id")

    def params(m: TodoistTaskMap) -> list[Any]:
        return [bool(getattr(m, "todoist_id_forgotten", False)), *convert(m)]

    with fenced(), connection.cursor() as cursor:
        if connection.vendor != "sqlite":
            sets = [f"{tid} = CASE WHEN %s THEN NULL ELSE COALESCE(%s, {tid}) END"]
            sets += [f"{quote(column)} = %s" for column in columns[1:]]
            # Only the model's own quoted table and column names go in the text.
            sql = f"UPDATE {table} SET {', '.join(sets)} WHERE {quote('id')} = %s"  # noqa: S608
            cursor.executemany(sql, [[*params(m), m.pk] for m in rows])
        else:
            _save_sqlite(cursor, rows, columns, params, quote, table, tid)
    for m in rows:
        m.todoist_id_forgotten = False


def _save_sqlite(
    cursor: Any, rows: list, columns: list[str], params: Any, quote: Any, table: str, tid: str
) -> None:
    """SQLite: one UPDATE ... FROM (VALUES ...) statement a chunk."""
    width = len(columns) + 2  # the id, the forgotten flag, then the columns
    sets = [f"{tid} = CASE WHEN v.column2 THEN NULL ELSE COALESCE(v.column3, {tid}) END"]
    sets += [f"{quote(column)} = v.column{n}" for n, column in enumerate(columns[1:], 4)]
    chunk = max(1, 900 // width)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        values = ", ".join([f"({', '.join(['%s'] * width)})"] * len(part))
        sql = (
            f"UPDATE {table} SET {', '.join(sets)} FROM (VALUES {values}) AS v "  # noqa: S608
            f"WHERE {table}.{quote('id')} = v.column1"
        )
        cursor.execute(sql, [value for m in part for value in (m.pk, *params(m))])


def mappings_insert(*, user_id: int, mappings: list[TodoistTaskMap]) -> None:
    """New mappings in one multi-row INSERT that answers their ids (RETURNING: SQLite 3.35+
    and PostgreSQL), chunked below the databases' parameter limits."""
    if not mappings:
        return
    now = timezone.now()
    for m in mappings:
        m.created_at = m.updated_at = now
    connection = connections[router.db_for_write(Map)]
    columns, convert = _column_writers(
        ["user", "local_task", "created_at", *MAP_FIELDS], connection
    )
    quote = connection.ops.quote_name
    row = f"({', '.join(['%s'] * len(columns))})"
    by_task = {m.local_task_id: m for m in mappings}
    chunk = max(1, 900 // len(columns))
    with fenced(), connection.cursor() as cursor:
        for start in range(0, len(mappings), chunk):
            part = mappings[start : start + chunk]
            sql = (
                f"INSERT INTO {quote(Map._meta.db_table)} ({', '.join(map(quote, columns))}) "  # noqa: S608
                f"VALUES {', '.join([row] * len(part))} "
                f"RETURNING {quote('id')}, {quote('local_task_id')}"
            )
            cursor.execute(sql, [value for m in part for value in convert(m)])
            for pk, local_task_id in cursor.fetchall():
                by_task[local_task_id].pk = pk


def commands_commit(*, user_id: int, items: list[PushItem]) -> None:
    """The exactly-once rule: a task's commands (with their uuids) are committed on its mapping
    before they are sent. Re-sent commands are stored already."""
    new = [item.mapping for item in items if item.mapping.pk is None]
    changed = [item.mapping for item in items if item.mapping.pk and not item.resend]
    with fenced():
        mappings_insert(user_id=user_id, mappings=new)
        mappings_save(changed)


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
    pairs = list(zip([f.attname for f in fields], adapters, strict=True))

    def convert(m: TodoistTaskMap) -> list[Any]:
        return [getattr(m, a) if adapt is None else adapt(getattr(m, a)) for a, adapt in pairs]

    return [f.column for f in fields], convert
