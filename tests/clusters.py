"""Private PostgreSQL and Redis servers for tests (and benchmarks) that stop, restart or kill
them: the machine's shared servers are never touched.

`private_postgres()` runs `initdb` into a temporary folder and `pg_ctl` on a free port (as the
`postgres` user when we are root, which `initdb` refuses to be), with `fsync` on so an
acknowledged write is as durable as in production; `frozen()` stops its processes for a while.
`private_redis()` runs `redis-server` on a free port with persistence off. Both are stopped and
removed on exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.servers import SLOW_START, free_port

PG_BIN = Path(os.environ.get("TANKTOP_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def postgres_available() -> bool:
    return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()


def redis_available() -> bool:
    return Path(REDIS_SERVER).exists()


def _as_postgres(command: list[str]) -> list[str]:
    """`command` run as the `postgres` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own; `stop()`, `start()` and `restart()` are the faults."""

    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on"
        subprocess.run(
            _as_postgres(
                [
                    *(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log")),
                    *("-o", options, "-w", "-t", "60", *args),
                ]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )

    def start(self) -> None:
        """Start and wait until it accepts connections (after crash recovery, if any)."""
        self._pg_ctl("start")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: like a crash (no checkpoint, clients cut off); `fast`: a clean stop."""
        self._pg_ctl("-m", mode, "stop")

    def restart(self, mode: str = "immediate") -> None:
        self._pg_ctl("-m", mode, "restart")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def _processes(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, ...)."""
        main = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                # pid (comm) state ppid ...: comm may hold spaces, so split after its ")"
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == main:
                    children.append(int(stat.parent.name))
        return [main, *children]

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Every process of the cluster stopped (SIGSTOP) inside the block: a server that
        accepts connections and answers nothing, as a frozen host or a cut network looks."""
        processes = self._processes()
        for pid in processes:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in processes:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    async def create_database(self, prefix: str = "t") -> str:
        """A new empty database in the cluster; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.url(), timeout=10)
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        return self.url(name)

    def log(self) -> str:
        path = self.folder / "log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh PostgreSQL 15 cluster on a free port, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="tanktop-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    cluster = PrivatePostgres(folder, free_port())
    try:
        subprocess.run(
            _as_postgres(
                [
                    *(str(PG_BIN / "initdb"), "-D", str(cluster.data), "-A", "trust"),
                    *("-U", "postgres", "-E", "UTF8", "--no-sync"),  # the server itself fsyncs
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            with contextlib.suppress(subprocess.SubprocessError):
                cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A Redis of our own; `stop()` and `start()` (same port) are the fault."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", str(self.folder)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + SLOW_START
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    folder = Path(tempfile.mkdtemp(prefix="tanktop-redis-"))
    server = PrivateRedis(folder, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
