"""Probes for orchestrators: `/healthz` (the process answers) and `/readyz` (it can serve)."""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tanktop import migrations
from tanktop.answers import model_answer, model_json
from tanktop.db import DatabaseDep
from tanktop.errors import problem_response
from tanktop.fastpath import FastRoute
from tanktop.faults import DatabaseFault

router = APIRouter(tags=["Operations"], route_class=FastRoute)


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    revision: str


_ALIVE = Health()


@router.get(
    "/healthz",
    name="operations.healthz",
    summary="Process is alive",
    response_model=Health,
    responses={200: model_answer("Alive.", {"status": "ok"}, Health)},
)
async def healthz() -> Response:
    """Answers without touching the database: a liveness probe and a benchmark baseline
    (written straight away, as the cheapest route's answer should be: `tanktop.fastpath`)."""
    return model_json(_ALIVE)


@router.get(
    "/readyz",
    name="operations.readyz",
    summary="Database reachable and schema current",
    response_model=Readiness,
    responses={
        200: model_answer("Ready.", {"status": "ready", "revision": "0008"}, Readiness),
        503: {"description": "Not ready: the detail says why."},
    },
)
async def readyz(db: DatabaseDep) -> Readiness | JSONResponse:
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
    return Readiness(revision=head)
