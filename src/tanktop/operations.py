"""Routes for operators: probes for orchestrators, `/healthz` (the process answers) and `/readyz`
(it can serve), and `/metrics` for Prometheus (the series are defined in `tanktop.metrics`)."""

from __future__ import annotations

import os
from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from pydantic import BaseModel

from tanktop import migrations
from tanktop.answers import model_answer, model_json
from tanktop.dependencies import DatabaseDep
from tanktop.fastpath import FastRoute
from tanktop.faults import DatabaseFault
from tanktop.handlers import problem_response

router = APIRouter(tags=["Operations"], route_class=FastRoute)
metrics_router = APIRouter(tags=["Operations"])
"""`/metrics`, included after every other route (it comes last in the OpenAPI document)."""


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


@metrics_router.get(
    "/metrics",
    name="operations.metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text format.",
            "content": {
                "text/plain": {
                    "schema": {"type": "string"},
                    "example": 'tanktop_events_ingested_total{origin="posted"} 42.0\n',
                }
            },
        }
    },
)
async def metrics() -> Response:
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
