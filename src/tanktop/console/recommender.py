"""Recommender page (the operator): a service's settings versions (store one, put an old one
back), its models (train now) and what its tuning runs found, with what the current version
weighs."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from tanktop.console.rendering import redirect, render
from tanktop.console.session import FormDep, OperatorDep, Signer
from tanktop.db import Database
from tanktop.errors import AppError
from tanktop.recommendations.schemas import RecommenderVersion
from tanktop.recommendations.service import train_apart
from tanktop.recommendations.settings import (
    current_settings,
    put_settings,
    restore_settings,
    settings_versions,
)
from tanktop.recommendations.stored import StoredModel, TuningReport, stored_models, tuning_reports

router = APIRouter(prefix="/recommender")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecommenderView:
    current: RecommenderVersion
    versions: list[RecommenderVersion]
    models: list[StoredModel]
    reports: list[TuningReport]
    training: bool


def _trainings(request: Request) -> dict[int, asyncio.Task[int]]:
    """Trainings this process started from the console, by service (one at a time each)."""
    state = request.app.state
    if not hasattr(state, "console_trainings"):
        state.console_trainings = {}
    trainings: dict[int, asyncio.Task[int]] = state.console_trainings
    return trainings


async def _page(request: Request, signer: Signer, *, status: int = 200, **context: Any) -> Response:
    db: Database = request.app.state.db
    service = signer.viewed()
    models = await stored_models(db, service.id)
    task = _trainings(request).get(service.id)
    view = RecommenderView(
        current=await current_settings(db, service.id),
        versions=await settings_versions(db, service),
        models=models,
        reports=await tuning_reports(db, service.id),
        training=task is not None and not task.done(),
    )
    draft = json.dumps(
        {"weights": view.current.weights, "params": view.current.params.model_dump()}, indent=2
    )
    context.setdefault("draft", draft)
    return render(request, "recommender.html", signer, status=status, view=view, **context)


@router.get("", name="console.recommender")
async def recommender_page(request: Request, signer: OperatorDep) -> Response:
    return await _page(request, signer)


@router.post("/settings", name="console.recommender_settings")
async def store_settings(request: Request, signer: OperatorDep, form: FormDep) -> Response:
    """A new settings version from the JSON the operator edited (400: nothing stored)."""
    db: Database = request.app.state.db
    text = form.get("settings", "")
    try:
        body = json.loads(text)
    except ValueError as exc:
        return await _page(
            request, signer, status=400, settings_error=f"Not JSON: {exc}.", draft=text
        )
    try:
        stored = await put_settings(db, signer.viewed(), body=body)
    except AppError as exc:
        return await _page(request, signer, status=400, settings_error=exc.detail, draft=text)
    return redirect(
        request,
        "/console/recommender",
        flash=f"Settings version {stored.version} stored: the next training uses it.",
    )


@router.post("/restore", name="console.recommender_restore")
async def restore(request: Request, signer: OperatorDep, form: FormDep) -> Response:
    """Roll back: an earlier version stored again as the newest."""
    db: Database = request.app.state.db
    version = form.get("version", "")
    try:
        stored = await restore_settings(
            db, signer.viewed(), version=int(version) if version.isdecimal() else -1
        )
    except AppError as exc:
        return redirect(request, "/console/recommender", flash=exc.detail)
    return redirect(
        request,
        "/console/recommender",
        flash=f"Version {version} put back as version {stored.version}.",
    )


@router.post("/train", name="console.recommender_train")
async def train_now(request: Request, signer: OperatorDep, form: FormDep) -> Response:
    """Train the service's model now in a child process (the page shows it when stored)."""
    db: Database = request.app.state.db
    service = signer.viewed()
    trainings = _trainings(request)
    running = trainings.get(service.id)
    if running is not None and not running.done():
        return redirect(request, "/console/recommender", flash="A training is already running.")
    task = asyncio.create_task(train_apart(db, service.id))
    task.add_done_callback(_report)
    trainings[service.id] = task
    return redirect(
        request,
        "/console/recommender",
        flash=f"Training {service.name}'s model: reload to see it listed when stored.",
    )


def _report(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("console training failed: %s", error, exc_info=error)
