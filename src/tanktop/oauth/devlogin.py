"""A development stand-in for a service's login page, so the flows can be walked in a browser.

Served only with `TANKTOP_OAUTH_DEV_LOGIN=1`, which `tanktop serve` refuses on a non-loopback
host, and each page refuses non-loopback callers too: it signs anyone in as any user id. Point
a service at it with `tanktop oauth enable demo --login-url http://127.0.0.1:8000/oauth/dev/demo/login`.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tanktop.dependencies import DatabaseDep
from tanktop.errors import AppError, Forbidden, NotFound
from tanktop.oauth import service as oauth
from tanktop.oauth.router import read_form
from tanktop.tenants import service as tenants
from tanktop.tenants.service import Service

router = APIRouter(prefix="/oauth/dev", include_in_schema=False)

ServiceName = Annotated[str, Path(max_length=100)]
LOOPBACK = ("127.0.0.1", "::1", "localhost")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px system-ui;max-width:32em;margin:3em auto}}input,button{{font:inherit}}
.note{{color:#a33}}</style></head>
<body><h1>{title}</h1>{body}
<p class="note">Development sign-in (TANKTOP_OAUTH_DEV_LOGIN): no password, any user id.</p>
</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


async def _service(request: Request, db: DatabaseDep, name: str) -> Service:
    client = request.client
    if client is None or client.host not in LOOPBACK:
        raise Forbidden("The development login page answers loopback callers only.")
    found = await tenants.service_by_name(db, name=name)
    if found is None:
        raise NotFound(f"no service named {name!r}")
    return found


@router.get("/{service}/login")
async def login_page(service: ServiceName, request: Request, db: DatabaseDep) -> Response:
    """The consent form for `?request=`, or the code form for the device flow."""
    found = await _service(request, db, service)
    request_id = request.query_params.get("request")
    if request_id is None:
        code = html.escape(request.query_params.get("user_code", ""), quote=True)
        return _page(
            "Connect a device",
            f"""<form method="post"><p><label>Code on your TV
            <input name="user_code" value="{code}" required></label></p>
            <p><label>Sign in as user id <input name="user_id" value="7" required></label></p>
            <button name="decision" value="approve">Allow</button>
            <button name="decision" value="deny">Deny</button></form>""",
        )
    try:
        pending = await oauth.pending_request(db, found, request_id=request_id)
    except AppError as error:
        return _page("Nothing to approve", f"<p>{html.escape(error.detail)}</p>", error.status)
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in pending.scope)
    return _page(
        f"{pending.client_name} wants access",
        f"""<p><b>{html.escape(pending.client_name)}</b> asks for:</p><ul>{scopes}</ul>
        <form method="post"><input type="hidden" name="request"
        value="{html.escape(request_id, quote=True)}">
        <p><label>Sign in as user id <input name="user_id" value="7" required></label></p>
        <button name="decision" value="approve">Allow</button>
        <button name="decision" value="deny">Deny</button></form>""",
    )


@router.post("/{service}/login")
async def login_decision(service: ServiceName, request: Request, db: DatabaseDep) -> Response:
    """What the service's own page would do: call approve or deny, then send the browser on."""
    found = await _service(request, db, service)
    form = dict(await read_form(request))
    approve = form.get("decision") == "approve"
    user_id = form.get("user_id", "")
    try:
        if "request" in form:
            decision = await oauth.decide(
                db,
                found,
                request_id=form["request"],
                user_id=user_id if approve else None,
                base_url=str(request.base_url).rstrip("/"),
            )
            return RedirectResponse(decision.redirect_to, status_code=303)
        device = await oauth.decide_device(
            db, found, user_code=form.get("user_code", ""), user_id=user_id, approve=approve
        )
    except AppError as error:
        return _page("That did not work", f"<p>{html.escape(error.detail)}</p>", error.status)
    verdict = "connected" if approve else "refused"
    return _page("Done", f"<p>{html.escape(device.client_name)} is {verdict}. Back to your TV.</p>")


@router.get("/callback")
async def callback(request: Request) -> Response:
    """A redirect URI for trying the code flow by hand: shows what the app would receive."""
    if request.client is None or request.client.host not in LOOPBACK:
        raise Forbidden("The development login page answers loopback callers only.")
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
        for k, v in request.query_params.multi_items()
    )
    return _page("What the app receives", f"<table>{rows}</table>")
