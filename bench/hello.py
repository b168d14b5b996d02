"""A bare FastAPI app: the ceiling of what the framework and server can do on this machine
(`bench.hotpaths` serves it with uvicorn, as `tanktop serve` serves ours).

`/hello` is the cheapest route. `/busy?ms=N` spends N ms of CPU around a 1 ms wait (the shape of
a request that spends its CPU around a database round trip), with no database and none of our
code: at the same concurrency, its p99 is what the machine's scheduling alone gives a request of
that CPU cost, the bound a route of ours of that cost cannot beat.
"""

import asyncio
import time

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"status": "ok"}


def _spin(ms: float) -> None:
    """Spend `ms` of this thread's CPU (not wall time: a busy machine stretches it alike)."""
    end = time.thread_time() + ms / 1000
    while time.thread_time() < end:
        pass


@app.get("/busy")
async def busy(ms: float = 0.0) -> dict[str, str]:
    _spin(ms / 2)
    await asyncio.sleep(0.001)
    _spin(ms / 2)
    return {"status": "ok"}
