"""Sections page: define, reorder and delete the service's sections; preview (and shape, with
hide and show) a user's section page."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from pydantic import JsonValue
from starlette.responses import Response

from tanktop.console import service as console
from tanktop.console.rendering import redirect, render
from tanktop.console.session import FormDep, Signer, SignerDep
from tanktop.console.users import checked_user
from tanktop.db import Database
from tanktop.errors import AppError, BadRequest
from tanktop.ids import is_name
from tanktop.sections import service as sections

router = APIRouter(prefix="/sections")


async def _page(request: Request, signer: Signer, *, status: int = 200, **context: Any) -> Response:
    db: Database = request.app.state.db
    defined = await sections.definitions(db, signer.viewed())
    return render(
        request,
        "sections.html",
        signer,
        status=status,
        defined=defined,
        kinds=sections.kinds(),
        **context,
    )


@router.get("", name="console.sections")
async def sections_page(request: Request, signer: SignerDep, user: str | None = None) -> Response:
    if user:
        user_id = quote(checked_user(user.strip()), safe="")
        return redirect(request, f"/console/users/{user_id}#sections")
    return await _page(request, signer)


def _definition(form: dict[str, str]) -> tuple[str, JsonValue]:
    """The section id and the definition body a form describes."""
    section_id = form.get("section_id", "").strip()
    if not is_name(section_id):
        raise BadRequest("A section id is 1-64 characters from A-Z a-z 0-9 _ . : @ -.")
    try:
        params = json.loads(form.get("params") or "{}")
    except json.JSONDecodeError as exc:
        raise BadRequest(f"params is not JSON: {exc.msg}.") from None
    body: dict[str, JsonValue] = {
        "title": form.get("title", "").strip(),
        "kind": form.get("kind", ""),
        "params": params,
        "locked": form.get("locked") == "on",
    }
    if form.get("item_type"):
        body["item_type"] = form["item_type"].strip()
    if form.get("max_items"):
        body["max_items"] = int(form["max_items"]) if form["max_items"].isdigit() else -1
    return section_id, body


@router.post("", name="console.sections_put")
async def put_section(request: Request, signer: SignerDep, form: FormDep) -> Response:
    """Define a section or replace one (what `PUT /section/<sectionid>/` does)."""
    db: Database = request.app.state.db
    try:
        section_id, body = _definition(form)
        _, created = await sections.put_section(
            db, signer.viewed(), section_id=section_id, body=body
        )
    except AppError as exc:
        return await _page(request, signer, status=400, form_error=exc.detail, form=form)
    verb = "added" if created else "replaced"
    return redirect(request, "/console/sections", flash=f"Section {section_id} {verb}.")


@router.post("/{section_id}/move", name="console.sections_move")
async def move_section(
    request: Request, signer: SignerDep, form: FormDep, section_id: str
) -> Response:
    offset = -1 if form.get("direction") == "up" else 1
    db: Database = request.app.state.db
    await console.move_section(db, signer.viewed(), section_id=section_id, offset=offset)
    return redirect(request, "/console/sections")


@router.post("/{section_id}/delete", name="console.sections_delete")
async def delete_section(
    request: Request, signer: SignerDep, form: FormDep, section_id: str
) -> Response:
    db: Database = request.app.state.db
    await sections.delete_section(db, signer.viewed(), section_id=section_id)
    return redirect(request, "/console/sections", flash=f"Section {section_id} deleted.")
