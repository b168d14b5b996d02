"""A worker that runs the analytics rollups alone: `tanktop worker` without its other tasks
(deliveries, live sessions, retraining...), so what a bench reads of its CPU is the rollups'.

    python -m bench.rollup_worker     (TANKTOP_DATABASE_URL etc. from the environment)
"""

from __future__ import annotations

import asyncio
import signal

from tanktop.analytics.rollup import RollupSchedule
from tanktop.config import Settings
from tanktop.db import Database
from tanktop.worker import run_worker


async def main() -> None:
    settings = Settings()
    db = Database(settings.database_url, pool_size=2)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        await run_worker(db, settings, stop, [RollupSchedule()], settings.worker_idle_seconds)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
