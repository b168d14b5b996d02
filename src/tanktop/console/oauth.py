"""OAuth apps page (the operator): a service's authorization server, its apps (redirect URIs,
scopes; register and revoke); and, on the Users page, a user's connected apps (disconnect)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from tanktop.console import service as console
from tanktop.console.rendering import redirect, render
from tanktop.console.session import FormDep, OperatorDep, Signer, SignerDep
from tanktop.console.users import checked_user
from tanktop.db import Database
from tanktop.errors import AppError
from tanktop.oauth import service as oauth

router = APIRouter(prefix="/oauth")


async def _page(request: Request, signer: Signer, *, status: int = 200, **context: Any) -> Response:
    db: Database = request.app.state.db
    view = await console.oauth_view(db, signer.viewed())
    return render(
        request, "oauth.html", signer, status=status, view=view, scopes=oauth.SCOPES, **context
    )


@router.get("", name="console.oauth")
async def oauth_page(request: Request, signer: OperatorDep) -> Response:
    return await _page(request, signer)


@router.post("/enable", name="console.oauth_enable")
async def enable(request: Request, signer: OperatorDep, form: FormDep) -> Response:
    """Run (or re-point) the service's authorization server at its login pages."""
    db: Database = request.app.state.db
    service = signer.viewed()
    try:
        await oauth.enable(
            db,
            name=service.name,
            login_url=form.get("login_url", "").strip(),
            verification_url=form.get("verification_url", "").strip() or None,
        )
    except AppError as exc:
        return await _page(request, signer, status=400, enable_error=exc.detail, form=form)
    return redirect(request, "/console/oauth", flash=f"OAuth runs for {service.name}.")


@router.post("/clients", name="console.oauth_client_create")
async def create_client(request: Request, signer: OperatorDep, form: FormDep) -> Response:
    """Register an app; its client secret (confidential apps) is shown in this answer only."""
    db: Database = request.app.state.db
    service = signer.viewed()
    uris = [line.strip() for line in form.get("redirect_uris", "").splitlines() if line.strip()]
    scopes = [scope for scope in oauth.SCOPES if form.get(f"scope_{scope}") == "on"]
    try:
        made = await oauth.create_client(
            db,
            service_name=service.name,
            name=form.get("name", ""),
            redirect_uris=uris,
            public=form.get("public") == "on",
            scopes=scopes,
        )
    except AppError as exc:
        return await _page(request, signer, status=400, client_error=exc.detail, form=form)
    return await _page(request, signer, new_client=made)


@router.post("/clients/revoke", name="console.oauth_client_revoke")
async def revoke_client(request: Request, signer: OperatorDep, form: FormDep) -> Response:
    db: Database = request.app.state.db
    client_id = form.get("client_id", "")
    await oauth.revoke_client(db, service_name=signer.viewed().name, client_id=client_id)
    return redirect(request, "/console/oauth", flash=f"App {client_id} revoked.")


users_router = APIRouter(prefix="/users")


@users_router.post("/{user_id}/apps/disconnect", name="console.user_app_disconnect")
async def disconnect(request: Request, signer: SignerDep, form: FormDep, user_id: str) -> Response:
    """The app's tokens for this user stop at once (the service's own disconnect call)."""
    db: Database = request.app.state.db
    client_id = form.get("client_id", "")
    user_id = checked_user(user_id)
    await oauth.disconnect(db, signer.viewed(), user_id=user_id, client_id=client_id)
    return redirect(
        request,
        f"/console/users/{quote(user_id, safe='')}#apps",
        flash=f"{client_id} disconnected.",
    )
