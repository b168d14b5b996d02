"""Training in a child process: it stores what an in-process training would, it never holds
up the worker's other tasks, and it dies with the process that started it."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from tanktop.db import Database
from tanktop.recommendations.apart import TrainingFailed, train_apart
from tests.conftest import Api, service_of, unique
from tests.notifications.test_workers import IDLE_POLL, offer_reaches_the_webhook, worker_env
from tests.receiver import receiver
from tests.servers import SLOW_START, create_key, running_server, start_worker


async def seed(api: Api, films: list[str]) -> None:
    batch: list[dict[str, Any]] = [
        {"user_id": f"u{u}", "event": "seen", "item_type": "movie", "item_id": film}
        for u in range(8)
        for film in films
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204


async def test_a_training_apart_stores_a_version(api: Api, db: Database) -> None:
    films = [unique("apart") for _ in range(3)]
    await seed(api, films)
    service = await service_of(db, api)
    assert await train_apart(db, service.id) == 1
    await api.post(f"/event/viewer/seen/movie/{films[0]}/")
    body = (await api.get("/recommendation/viewer/?n=2")).json()["recommendations"]
    assert {r["item_id"] for r in body} == set(films[1:])
    with pytest.raises(TrainingFailed, match="exited with status 1"):
        await train_apart(db, 2**31 - 1)  # no such service: nothing can be stored


def _trainings(parent: psutil.Process) -> list[psutil.Process]:
    """The parent's running training processes (a child that has just ended, a zombie until
    its parent reaps it, or is gone, is none: CI once failed on reading a zombie's cmdline)."""
    found = []
    for child in parent.children(recursive=True):
        try:
            if "tanktop.recommendations.apart" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # ZombieProcess, NoSuchProcess
            continue
    return found


def test_the_child_dies_with_its_parent() -> None:
    """A parent that dies by SIGKILL runs no cleanup: the kernel ends the child."""
    parent_code = textwrap.dedent(
        """
        import os, subprocess, sys, time
        child = (
            "import os, sys, time; "
            "from tanktop.recommendations.apart import die_with_parent; "
            "die_with_parent(int(sys.argv[1])); print('ready', flush=True); time.sleep(60)"
        )
        p = subprocess.Popen([sys.executable, "-c", child, str(os.getpid())], stdout=sys.stdout)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE)
    children: list[psutil.Process] = []
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == b"ready"
        children = psutil.Process(parent.pid).children()
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        _gone, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, "the child outlived its parent"
    finally:
        parent.kill()
        for child in children:
            if child.is_running():
                child.kill()


@pytest.mark.e2e
async def test_a_held_training_neither_stalls_the_worker_nor_outlives_it(
    postgres_url: str,
) -> None:
    """A training that cannot store its model (the table locked) runs beside the worker's
    deliveries; SIGKILL of the worker takes the training's process with it."""
    env = worker_env(postgres_url) | {
        "TANKTOP_RETRAIN_AFTER_EVENTS": "1",
        "TANKTOP_RETRAIN_CHECK_SECONDS": "0",
        "TANKTOP_WORKER_IDLE_SECONDS": IDLE_POLL,
    }
    key = create_key(env, unique("apart"))
    lock = await asyncpg.connect(postgres_url)
    transaction = lock.transaction()
    await transaction.start()
    await lock.execute("LOCK TABLE rec_models IN EXCLUSIVE MODE")  # reads pass, inserts wait
    worker = None
    children: list[psutil.Process] = []
    try:
        async with receiver() as hook:
            with running_server(env, "--no-worker") as server:
                base = f"{server.base_url}/api/1/{key}"
                async with httpx.AsyncClient(base_url=base) as http:
                    response = await http.post(
                        "/events/",
                        json=[
                            {"user_id": "u", "event": "seen", "item_type": "movie", "item_id": 1}
                        ],
                    )
                    assert response.status_code == 204
                worker = start_worker(env)
                process = psutil.Process(worker.pid)
                waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"
                waiting += " AND relation = 'rec_models'::regclass"

                async def held() -> bool:
                    return bool(await lock.fetchval(waiting))

                deadline = time.monotonic() + SLOW_START  # the worker's start, then a round
                while not (_trainings(process) and await held()):
                    assert time.monotonic() < deadline, "no training reached the locked table"
                    await asyncio.sleep(0.1)
                count = lambda: len(hook.received)  # noqa: E731
                await offer_reaches_the_webhook(server.base_url, key, hook.url, count)
                children = _trainings(process)
                worker.send_signal(signal.SIGKILL)
                worker.wait(10)
                _gone, alive = psutil.wait_procs(children, timeout=5)
                assert not alive, "a training outlived the killed worker"
    finally:
        if worker is not None:
            worker.kill()
        for child in children:
            if child.is_running():
                child.kill()
        await transaction.rollback()
        await lock.close()
