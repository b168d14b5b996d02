"""A small closed-loop HTTP load generator (aiohttp: fast enough not to be the bottleneck).

Each benchmark measures its endpoints and a baseline in the same run and prints ratios,
because absolute numbers on shared machines mean little.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    body: Any = None
    headers: dict[str, str] | None = None


CallFactory = Callable[[int], Call]


@dataclass
class LoadResult:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def row(self) -> str:
        return (
            f"{self.name:<30} {self.throughput:>8.0f} req/s   p50 {self.percentile(50):6.2f} ms"
            f"   p99 {self.percentile(99):6.2f} ms   errors {self.errors}"
        )


async def run_load(
    name: str, make_call: CallFactory, *, concurrency: int, seconds: float
) -> LoadResult:
    """Keep `concurrency` requests in flight for `seconds`; request i is make_call(i)."""
    latencies: list[float] = []
    errors = 0
    counter = 0
    headers = {"content-type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def loop() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                call = make_call(counter)
                data = None if call.body is None else json.dumps(call.body)
                started = time.perf_counter()
                try:
                    async with session.request(
                        call.method,
                        call.url,
                        data=data,
                        headers={**headers, **(call.headers or {})},
                    ) as response:
                        await response.read()
                        errors += response.status >= 400
                except aiohttp.ClientError:
                    errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(name, len(latencies), errors, elapsed, latencies)


def ratio_line(result: LoadResult, baseline: LoadResult) -> str:
    return (
        f"{result.name:<30} throughput {result.throughput / baseline.throughput:6.1%} of "
        f"{baseline.name}; p99 x{result.percentile(99) / baseline.percentile(99):.1f}"
    )
