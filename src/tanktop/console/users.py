"""Users page: find a user, then see what the service holds on them (profile, lists, history,
bookmarks, recommendations with reasons, notification requests)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from tanktop.console import service as console
from tanktop.console.rendering import redirect, render
from tanktop.console.session import FormDep, SignerDep
from tanktop.db import Database
from tanktop.errors import BadRequest
from tanktop.events import service as events
from tanktop.ids import ID_CHARS, is_user_id

router = APIRouter(prefix="/users")


def checked_user(user_id: str) -> str:
    if not is_user_id(user_id):
        raise BadRequest(f"A user id is 1-32 characters from {ID_CHARS}; got {user_id!r}.")
    return user_id


@router.get("", name="console.users")
async def users_page(request: Request, signer: SignerDep, user: str | None = None) -> Response:
    if user:
        return redirect(request, "/console/users/" + quote(checked_user(user.strip()), safe=""))
    db: Database = request.app.state.db
    active = await events.recent_users(db, signer.viewed(), n=25)
    return render(request, "users.html", signer, active=active)


@router.get("/{user_id}", name="console.user")
async def user_page(request: Request, signer: SignerDep, user_id: str) -> Response:
    state = request.app.state
    service = signer.viewed()
    view = await console.user_view(
        state.db,
        service,
        user_id=checked_user(user_id),
        facts=state.catalog_facts,
        models=state.model_cache,
    )
    page = await console.section_page_view(
        state.db, service, user_id=user_id, facts=state.catalog_facts, models=state.model_cache
    )
    apps = await console.connected_apps(state.db, service, user_id=user_id)
    return render(request, "user.html", signer, view=view, page=page, apps=apps)


@router.get("/{user_id}/history", name="console.user_history")
async def history_rows(
    request: Request, signer: SignerDep, user_id: str, before: str | None = None
) -> Response:
    """Older history rows (htmx appends them to the table)."""
    db: Database = request.app.state.db
    view = await console.history_view(
        db, signer.viewed(), user_id=checked_user(user_id), before=before
    )
    return render(request, "_history_rows.html", signer, view=view)


@router.post("/{user_id}/sections/{section_id}", name="console.user_section")
async def hide_or_show_section(
    request: Request, signer: SignerDep, form: FormDep, user_id: str, section_id: str
) -> Response:
    """Hide a section from the user's page, or show it again; the page card is redrawn."""
    state = request.app.state
    service = signer.viewed()
    await console.set_section_hidden(
        state.db,
        service,
        writer=state.event_writer,
        user_id=checked_user(user_id),
        section_id=section_id,
        hidden=form.get("hidden") == "1",
    )
    if not request.headers.get("hx-request"):
        return redirect(request, f"/console/users/{quote(user_id, safe='')}#sections")
    page = await console.section_page_view(
        state.db, service, user_id=user_id, facts=state.catalog_facts, models=state.model_cache
    )
    return render(request, "_section_page.html", signer, page=page)
