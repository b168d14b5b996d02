"""Jinja2 templates of the console, the filters they use, and the headers every page carries."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import Any

from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tanktop.console.session import Session, Signer, sessions_of, with_flash

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
"""No inline script or style, no framing, nothing cached (pages show private data)."""


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    operator_only: bool = False


NAV = [
    NavItem("/console/", "Overview"),
    NavItem("/console/users", "Users"),
    NavItem("/console/notifications", "Notifications"),
    NavItem("/console/sections", "Sections"),
    NavItem("/console/keys", "Keys"),
    NavItem("/console/recommender", "Recommender", operator_only=True),
    NavItem("/console/oauth", "OAuth apps", operator_only=True),
]


def when(value: dt.datetime | str | None) -> str:
    """A time as people read it in a table: `2026-11-27 20:00 UTC`."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(value: dt.datetime | str | None) -> str:
    """How long ago (or how soon), roughly: `3 min ago`, `in 2 h`, `5 d ago`."""
    if value is None:
        return "never"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    seconds = (dt.datetime.now(dt.UTC) - value).total_seconds()
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if abs(seconds) >= size:
            amount = f"{int(abs(seconds) // size)} {unit}"
            return f"{amount} ago" if seconds > 0 else f"in {amount}"
    return "just now"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("tanktop.console", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, ago=ago, pretty_json=pretty_json)
    env.globals["nav"] = NAV
    return env


TEMPLATES = _environment()


def _headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def render(
    request: Request,
    template: str,
    signer: Signer | None,
    *,
    status: int = 200,
    session: Session | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page (or an htmx fragment); a pending flash message is shown once, then cleared."""
    session = session or (signer.session if signer else sessions_of(request).read(request))
    html = TEMPLATES.get_template(template).render(
        request=request,
        signer=signer,
        csrf=session.csrf,
        flash=session.flash,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    if session.flash:
        sessions_of(request).write(response, request, replace(session, flash=None))
    elif request.cookies.get("tanktop_console") is None:
        sessions_of(request).write(response, request, session)
    return _headers(response)  # type: ignore[return-value]


def redirect(
    request: Request, path: str, *, session: Session | None = None, flash: str | None = None
) -> Response:
    """303 to `path` (htmx follows it too), writing the session when it changed."""
    response = RedirectResponse(path, status_code=303)
    if session is not None or flash is not None:
        base = session or sessions_of(request).read(request)
        sessions_of(request).write(
            response, request, with_flash(base, flash) if flash is not None else base
        )
    return _headers(response)
