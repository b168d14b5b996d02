"""Keys page: API keys (create and revoke: the operator), signing secrets, default webhook URL.

A new key is shown once, in the answer to the form that created it; pages name keys by label
and forms by hash, so no key ever appears in a console URL, log line or later page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from tanktop.console import service as console
from tanktop.console.rendering import redirect, render
from tanktop.console.session import FormDep, NotAllowed, OperatorDep, Signer, SignerDep
from tanktop.db import Database
from tanktop.errors import AppError, BadRequest
from tanktop.notifications import service as notifications
from tanktop.tenants import service as tenants
from tanktop.tenants.service import Service

router = APIRouter(prefix="/keys")
MAX_OVERLAP_HOURS = 24 * 14


def _target(signer: Signer, form: dict[str, str]) -> Service:
    """The service a form acts on: one the signer may act on (a key: only its own)."""
    found = next((s for s in signer.services if str(s.id) == form.get("service_id")), None)
    if found is None:
        raise NotAllowed("You may not change that service.")
    return found


async def _page(request: Request, signer: Signer, *, status: int = 200, **context: Any) -> Response:
    db: Database = request.app.state.db
    shown = signer.services if signer.operator else [signer.viewed()]
    cards = await console.service_keys(db, services=shown)
    return render(request, "keys.html", signer, status=status, cards=cards, **context)


@router.get("", name="console.keys")
async def keys_page(request: Request, signer: SignerDep) -> Response:
    return await _page(request, signer)


@router.post("", name="console.keys_create")
async def create_key(request: Request, signer: OperatorDep, form: FormDep) -> Response:
    """A new key (and service, if the name is new); shown in this answer only."""
    db: Database = request.app.state.db
    name = form.get("service", "").strip()
    webhook_url = form.get("webhook_url", "").strip() or None
    try:
        if webhook_url is not None:
            notifications.check_webhook_url(webhook_url)
        key = await tenants.create_key(db, name=name, webhook_url=webhook_url)
    except AppError as exc:
        return await _page(request, signer, status=400, create_error=exc.detail, name=name)
    signer = Signer(signer.role, signer.session, signer.service, await tenants.list_services(db))
    return await _page(request, signer, new_key=key, new_key_service=name)


@router.post("/revoke", name="console.keys_revoke")
async def revoke_key(request: Request, signer: OperatorDep, form: FormDep) -> Response:
    db: Database = request.app.state.db
    key_hash = form.get("key_hash", "")
    label = next(
        (k.label for k in await tenants.list_keys(db) if k.key_hash == key_hash and key_hash), None
    )
    if label is None or not await tenants.revoke_key_hash(db, key_hash=key_hash):
        return redirect(request, "/console/keys", flash="That key is unknown or already revoked.")
    return redirect(request, "/console/keys", flash=f"Key {label} revoked.")


@router.post("/rotate-secret", name="console.keys_rotate")
async def rotate_secret(request: Request, signer: SignerDep, form: FormDep) -> Response:
    """A new signing secret; the current ones stay valid for the overlap (default 24 h)."""
    service = _target(signer, form)
    try:
        hours = float(form.get("overlap_hours") or 24)
    except ValueError:
        hours = -1
    if not 0 <= hours <= MAX_OVERLAP_HOURS:
        raise BadRequest(f"The overlap is 0 to {MAX_OVERLAP_HOURS} hours.")
    db: Database = request.app.state.db
    await tenants.rotate_secret(db, name=service.name, overlap=dt.timedelta(hours=hours))
    return redirect(
        request,
        "/console/keys",
        flash=f"New signing secret for {service.name}; the old one stays valid for {hours:g} h.",
    )


@router.post("/webhook", name="console.keys_webhook")
async def set_webhook(request: Request, signer: SignerDep, form: FormDep) -> Response:
    """The default webhook URL of notification requests that give none (empty: none)."""
    service = _target(signer, form)
    url = form.get("webhook_url", "").strip() or None
    if url is not None:
        notifications.check_webhook_url(url)
    db: Database = request.app.state.db
    await tenants.set_webhook_url(db, name=service.name, url=url)
    message = f"Default webhook URL of {service.name}: {url}" if url else "Default URL removed."
    return redirect(request, "/console/keys", flash=message)
