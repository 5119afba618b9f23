"""Throwaway databases for the processes of a stack: the e2e tests and the benches."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in ("postgres", "postgresql", "pgsql", "psql")


@contextlib.contextmanager
def throwaway_database(tmp_path: Path, label: str = "e2e") -> Iterator[str]:
    """Yields the URL of an empty database that is dropped (or deleted) afterwards: a new
    database on DATABASE_URL's server when that is PostgreSQL, else a SQLite file in
    `tmp_path`."""
    base = os.environ.get("DATABASE_URL", "")
    if not is_postgres(base):
        yield f"sqlite:///{tmp_path / (label + '.sqlite3')}"
        return
    import psycopg
    from psycopg import sql

    name = f"planner_{label}_{os.getpid()}_{secrets.token_hex(4)}"
    parts = urlsplit(base)
    server = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        with contextlib.suppress(Exception):  # our own connections, if Django made any
            from django.db import connections

            connections.close_all()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
