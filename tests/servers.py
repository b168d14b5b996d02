"""Real `tanktop` processes for end-to-end tests: run the CLI, start and stop servers."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from tanktop import migrations
from tanktop.db import Database
from tanktop.tenants import service as tenants

TANKTOP = str(Path(sys.executable).with_name("tanktop"))

SLOW_START = 180.0
"""Seconds a `tanktop` process may take to start: a few CPU seconds of imports and migrations,
but minutes of wall time on a machine busy with other runs. A bound, not a wait: readiness is
polled, so a quiet machine spends no more than the start itself."""
SLOW_STOP = 60.0
"""Seconds a SIGTERMed `tanktop` process may take to finish what it has in flight and exit on
a busy machine (a bound on a wait for its exit, not a sleep)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tanktop_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANKTOP_")}
    env.update({"TANKTOP_DATABASE_URL": database_url, "TANKTOP_KEY_CACHE_SECONDS": "0"})
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TANKTOP, *args], env=env, capture_output=True, text=True, timeout=SLOW_START, check=False
    )


def cli_key(env: dict[str, str], name: str) -> str:
    """`tanktop keys create`: the key it prints as its last line."""
    result = run_cli(env, "keys", "create", name)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def create_key(env: dict[str, str], name: str) -> str:
    """A service and its key, made in this process as `tanktop keys create` makes them (the
    database migrated first) without that command's process start: seconds of imports on a
    busy machine, for each of the many tests that only need a key (`cli_key` runs it)."""

    async def make() -> str:
        db = Database(env["TANKTOP_DATABASE_URL"], pool_size=1)
        try:
            await migrations.upgrade(db)
            return await tenants.create_key(db, name=name)
        finally:
            await db.dispose()

    with ThreadPoolExecutor(1) as thread:  # callers run inside the test's event loop
        return thread.submit(asyncio.run, make()).result()


def start_worker(env: dict[str, str], *, nice: int = 0) -> subprocess.Popen[bytes]:
    """`tanktop worker` in the background (the caller stops it), at `nice` (a lower CPU
    priority than the API's: what an operator gets with `nice -n N tanktop worker`)."""
    command = [TANKTOP, "worker"]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def until(condition: Callable[[], bool], *, within: float, what: str) -> None:
    """Wait until `condition()` holds, failing after `within` seconds: load tests wait for the
    load to reach a size, not for a fixed time that a busy machine may not fill."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def pg_fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    """One query on a connection of its own: what a test reads behind the servers' backs."""
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> int:
        """SIGTERM: stop accepting, finish what is in flight, exit; returns the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(SLOW_STOP)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing; what was acknowledged must already be durable."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@contextmanager
def running_server(env: dict[str, str], *extra_args: str) -> Iterator[Server]:
    """`tanktop serve` on a free port, waited for until it answers, stopped afterwards."""
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="tanktop-serve-", suffix=".log", delete=False) as f:
        log_path = Path(f.name)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [TANKTOP, "serve", "--port", str(port), *extra_args],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_until_up(server)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(SLOW_STOP)
            except subprocess.TimeoutExpired:
                process.kill()
        log_path.unlink(missing_ok=True)


def wait_until_up(server: Server, timeout: float = SLOW_START) -> None:
    """Poll `/healthz` (uvicorn answers only once the app's start-up has run; the probe costs
    nothing, unlike building `/openapi.json`) until it answers or the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            httpx.get(server.base_url + "/healthz", timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"server did not start in {timeout:.0f} s:\n{server.log()}")
