"""Notifications page: the service's requests, each delivery with its attempts and answers,
and resending a failed webhook."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from tanktop.console import service as console
from tanktop.console.rendering import render
from tanktop.console.session import FormDep, SignerDep
from tanktop.db import Database
from tanktop.errors import BadRequest, NotFound
from tanktop.ids import is_name, is_user_id
from tanktop.notifications import service as notifications

router = APIRouter(prefix="/notifications")


@router.get("", name="console.notifications")
async def requests_page(
    request: Request,
    signer: SignerDep,
    status: str | None = None,
    cursor: str | None = None,
) -> Response:
    db: Database = request.app.state.db
    view = await console.notifications_view(
        db, signer.viewed(), status=status or None, cursor=cursor
    )
    return render(request, "notifications.html", signer, view=view)


def _request_path(user_id: str, item_type: str, item_id: str) -> dict[str, str]:
    if not (is_user_id(user_id) and is_name(item_type) and is_name(item_id)):
        raise BadRequest("That is not a notification request's address.")
    return {"user_id": user_id, "item_type": item_type, "item_id": item_id}


@router.get("/{user_id}/{item_type}/{item_id}", name="console.notification")
async def request_page(
    request: Request, signer: SignerDep, user_id: str, item_type: str, item_id: str
) -> Response:
    db: Database = request.app.state.db
    view = await console.request_view(
        db, signer.viewed(), **_request_path(user_id, item_type, item_id)
    )
    return render(request, "notification.html", signer, view=view)


@router.post("/{user_id}/{item_type}/{item_id}/resend", name="console.notification_resend")
async def resend(
    request: Request,
    signer: SignerDep,
    form: FormDep,
    user_id: str,
    item_type: str,
    item_id: str,
) -> Response:
    """Queue the failed deliveries again; the page's deliveries section is redrawn."""
    db: Database = request.app.state.db
    service = signer.viewed()
    address = _request_path(user_id, item_type, item_id)
    try:
        queued = await notifications.resend_failed(db, service, **address)
        message = f"{queued} webhook{'s' if queued != 1 else ''} queued again."
    except NotFound as exc:
        message = exc.detail
    view = await console.request_view(db, service, **address)
    template = "_deliveries.html" if request.headers.get("hx-request") else "notification.html"
    return render(request, template, signer, view=view, message=message)
