"""The operator's admin API for a service's recommender settings (API.md "Recommender
settings"): read the version in use, store a new one, list them all."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from tanktop.answers import model_answer, model_json
from tanktop.auth import AdminDep
from tanktop.bodies import json_body, json_body_openapi
from tanktop.dependencies import DatabaseDep
from tanktop.errors import NotFound, problem_responses
from tanktop.recommendations import settings
from tanktop.recommendations.schemas import (
    RecommenderBody,
    RecommenderVersion,
    RecommenderVersions,
)
from tanktop.tenants import service as tenants
from tanktop.tenants.service import Service

router = APIRouter(
    prefix="/admin/1/service/{name}/recommender",
    tags=["Recommender settings (admin)"],
    dependencies=[AdminDep],
)

ServiceName = Annotated[
    str,
    Path(min_length=1, max_length=100, description="The service's name.", examples=["acme-tv"]),
]
_VERSION: dict[str, Any] = {
    "version": 2,
    "created_at": "2026-11-30T09:00:00+00:00",
    "weights": {**settings.DEFAULT_WEIGHTS, "like": 0.8},
    "params": {**settings.DEFAULT.params.model_dump(), "rating_min": 1.0, "rating_neutral": 3.0},
}
_ERRORS = problem_responses(400, 401, 403, 404)


async def _service(db: DatabaseDep, name: str) -> Service:
    found = await tenants.service_by_name(db, name=name)
    if found is None:
        raise NotFound(f"No service named {name!r} (tanktop keys list shows them).")
    return found


@router.get(
    "/",
    name="recommendations.settings",
    summary="The recommender settings a service uses now",
    response_model=RecommenderVersion,
    responses={
        200: model_answer(
            "The version in use (version 0: the defaults).", _VERSION, RecommenderVersion
        ),
        **_ERRORS,
    },
)
async def get_settings(name: ServiceName, db: DatabaseDep) -> Response:
    service = await _service(db, name)
    return model_json(await settings.current_settings(db, service.id))


@router.put(
    "/",
    name="recommendations.put_settings",
    summary="Store a new version of a service's recommender settings",
    description=(
        "Weights for any event name are merged over the defaults (0 ignores an event; `hide` "
        "stays negative); `params` not given take their defaults. Training and serving use "
        "the newest version. Putting an earlier version's `weights` and `params` back "
        "restores it (as a new version)."
    ),
    status_code=201,
    response_model=RecommenderVersion,
    responses={
        201: model_answer("Stored; the complete new version.", _VERSION, RecommenderVersion),
        **problem_responses(413, 415),
        **_ERRORS,
    },
    openapi_extra=json_body_openapi(
        RecommenderBody.model_json_schema(),
        {"weights": {"like": 0.8}, "params": {"rating_min": 1, "rating_neutral": 3}},
        "What differs from the defaults.",
    ),
)
async def put_settings(name: ServiceName, request: Request, db: DatabaseDep) -> Response:
    service = await _service(db, name)
    stored = await settings.put_settings(db, service, body=await json_body(request))
    return model_json(stored, 201)


@router.get(
    "/versions/",
    name="recommendations.settings_versions",
    summary="Every stored version of a service's recommender settings, newest first",
    response_model=RecommenderVersions,
    responses={
        200: model_answer(
            "Newest first; empty: the defaults.", {"versions": [_VERSION]}, RecommenderVersions
        ),
        **_ERRORS,
    },
)
async def list_versions(name: ServiceName, db: DatabaseDep) -> Response:
    service = await _service(db, name)
    return model_json(RecommenderVersions(versions=await settings.settings_versions(db, service)))
