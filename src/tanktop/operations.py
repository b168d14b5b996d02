"""Probes for orchestrators: `/healthz` (the process answers) and `/readyz` (it can serve)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tanktop import migrations
from tanktop.answers import answer, record
from tanktop.db import DatabaseDep
from tanktop.errors import problem_response
from tanktop.faults import DatabaseFault

router = APIRouter(tags=["Operations"])


@router.get(
    "/healthz",
    name="operations.healthz",
    summary="Process is alive",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> dict[str, str]:
    """Answers without touching the database: a liveness probe and a benchmark baseline."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    name="operations.readyz",
    summary="Database reachable and schema current",
    responses={
        200: answer(
            "Ready.",
            record(
                {"status": {"type": "string", "enum": ["ready"]}, "revision": {"type": "string"}}
            ),
            {"status": "ready", "revision": "0008"},
        ),
        503: {"description": "Not ready: the detail says why."},
    },
)
async def readyz(db: DatabaseDep) -> JSONResponse:
    """Ready when a query answers and the schema is at the revision this code expects."""
    try:
        async with db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))
        revision = await migrations.current_revision(db)
    except DatabaseFault as fault:
        return problem_response(
            503,
            "Not ready",
            f"Database unreachable ({fault.kind}).",
            slug="not-ready",
            headers={"Retry-After": "1"},
        )
    head = migrations.head_revision()
    if revision != head:
        return problem_response(
            503,
            "Not ready",
            f"Schema at revision {revision}, code expects {head}: run `tanktop migrate`.",
            slug="not-ready",
        )
    return JSONResponse({"status": "ready", "revision": revision})
