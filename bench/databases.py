"""Fresh databases for benchmarks: an SQLite file in a temporary folder, or a new PostgreSQL
database on the local server (dropped and created again each run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def pg_url(database: str) -> str:
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + database


def psql(database: str, sql: str) -> str:
    return subprocess.run(
        ["psql", "-qtA", pg_url(database), "-c", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


def fresh_database(backend: str, name: str, folder: str) -> str:
    """The URL of an empty database `name` on `backend` (sqlite: a file in `folder`)."""
    if backend == "sqlite":
        return f"sqlite:///{Path(folder) / (name + '.db')}"
    psql("test", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql("test", f"CREATE DATABASE {name}")
    return pg_url(name)
