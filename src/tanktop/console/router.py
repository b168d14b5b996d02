"""The console at `/console/`: sign-in and sign-out, the service picker, the overview, the
static assets, and how console errors are shown (as pages, not problem+json)."""

from __future__ import annotations

import hmac
import inspect
import secrets
from dataclasses import replace
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from tanktop.config import Settings
from tanktop.console import keys, notifications, oauth, recommender, sections, users
from tanktop.console import service as console
from tanktop.console.rendering import redirect, render
from tanktop.console.session import (
    NotAllowed,
    Session,
    Sessions,
    SignerDep,
    SignInRequired,
    current_signer,
    read_form,
    sessions_of,
)
from tanktop.db import Database
from tanktop.errors import AppError
from tanktop.redaction import KEY_PATTERN
from tanktop.tenants import service as tenants

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("", name="console.root")
async def root(request: Request) -> Response:
    return redirect(request, "/console/")


@router.get("/", name="console.overview")
async def overview(request: Request, signer: SignerDep) -> Response:
    db: Database = request.app.state.db
    summary = await console.overview(db, signer.service) if signer.service else None
    return render(request, "overview.html", signer, summary=summary)


@router.get("/sign-in", name="console.sign_in_page")
async def sign_in_page(request: Request) -> Response:
    try:
        await current_signer(request)
        return redirect(request, "/console/")
    except SignInRequired:
        return render(request, "sign_in.html", None)


@router.post("/sign-in", name="console.sign_in")
async def sign_in(request: Request) -> Response:
    """An API key signs in to its service; the admin token signs the operator in."""
    sessions = sessions_of(request)
    session = sessions.read(request)
    form = await read_form(request, session)
    credential = form.get("credential", "").strip()
    db: Database = request.app.state.db
    settings: Settings = request.app.state.settings
    fresh = Session()  # a new CSRF token with every sign-in
    if KEY_PATTERN.fullmatch(credential):
        key_hash = tenants.hash_key(credential)
        service = await tenants.find_service_by_hash(db, key_hash=key_hash)
        if service is not None:
            signed = Session(csrf=fresh.csrf, role="service", key_hash=key_hash)
            return redirect(request, "/console/", session=signed)
    elif settings.admin_token and hmac.compare_digest(
        credential.encode(), settings.admin_token.encode()
    ):
        fingerprint = sessions.admin_fingerprint(settings.admin_token)
        signed = Session(csrf=fresh.csrf, role="operator", admin=fingerprint)
        return redirect(request, "/console/", session=signed)
    return render(
        request,
        "sign_in.html",
        None,
        status=401,
        error="That is neither an active API key nor the admin token.",
    )


@router.post("/sign-out", name="console.sign_out")
async def sign_out(request: Request, signer: SignerDep) -> Response:
    await read_form(request, signer.session)
    response = redirect(request, "/console/sign-in")
    response.delete_cookie("tanktop_console", path="/console")
    return response


@router.post("/service", name="console.pick_service")
async def pick_service(request: Request, signer: SignerDep) -> Response:
    """The operator chooses which service the pages show."""
    form = await read_form(request, signer.session)
    if not signer.operator:
        raise NotAllowed("A service's key shows only that service.")
    chosen = next((s for s in signer.services if str(s.id) == form.get("service_id")), None)
    if chosen is None:
        raise NotAllowed("No such service.")
    back = form.get("back", "/console/")
    if not back.startswith("/console"):
        back = "/console/"
    return redirect(
        request, back.split("?")[0], session=replace(signer.session, service_id=chosen.id)
    )


router.include_router(keys.router)
router.include_router(users.router)
router.include_router(notifications.router)
router.include_router(sections.router)
router.include_router(recommender.router)
router.include_router(oauth.router)
router.include_router(oauth.users_router)

STATIC = Path(str(files("tanktop.console").joinpath("static")))


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the console on `app`: routes, assets, session signing, error pages."""
    app.state.console_sessions = Sessions(
        settings, settings.console_secret or secrets.token_urlsafe(32)
    )
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console.static")

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        response = redirect(request, "/console/sign-in")
        if request.headers.get("hx-request"):
            response.headers["HX-Redirect"] = "/console/sign-in"
        return response

    async def not_allowed(request: Request, exc: Exception) -> Response:
        detail = exc.detail if isinstance(exc, NotAllowed) else str(exc)
        return await _error_page(request, 403, "Not allowed", detail)

    previous = app.exception_handlers[AppError]

    async def app_error(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/console") or not isinstance(exc, AppError):
            answer = previous(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        return await _error_page(request, exc.status, exc.title, exc.detail)

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(NotAllowed, not_allowed)
    app.add_exception_handler(AppError, app_error)


async def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    try:
        signer = await current_signer(request)
    except SignInRequired:
        signer = None
    return render(request, "error.html", signer, status=status, title=title, detail=detail)
