"""Notification fixtures: a loopback receiver and settings that allow it."""

from __future__ import annotations

import pytest

from tanktop.config import Settings
from tanktop.db import Database
from tanktop.notifications.delivery import deliver_due_notifications
from tanktop.notifications.matcher import match_catalog_changes


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    """Loopback receivers allowed, retries quick."""
    return settings.model_copy(
        update={"webhook_allow_private": True, "webhook_retry_delays": "0,0,0"}
    )


async def run_worker_once(db: Database, settings: Settings, rounds: int = 3) -> None:
    """What a worker does: match catalog changes, then deliver what is due (a few rounds)."""
    for _ in range(rounds):
        while await match_catalog_changes(db, settings=settings):
            pass
        while await deliver_due_notifications(db, settings=settings):
            pass
