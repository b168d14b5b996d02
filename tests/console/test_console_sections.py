"""Console sections pages over HTTP (both backends): define, reorder, delete, and a user's
section page shaped by hiding and showing sections."""

from __future__ import annotations

import re

from tests.conftest import Admin, Api, unique
from tests.console.conftest import Browser

ORDER = re.compile(r'<li data-section="([^"]+)">')


def shown(html: str) -> list[str]:
    """Section ids in the user's page order (hidden ones are in a second list, after)."""
    part = html[html.index('id="sections"') :]
    return ORDER.findall(part.split("Hidden by the user")[0])


async def test_define_reorder_and_delete(browser: Browser, api: Api) -> None:
    await browser.sign_in(api.key)
    page = await browser.get("/console/sections")
    assert "Continue watching" in page.text  # the default page, until the service defines one
    bad = await browser.post(
        "/console/sections", {"section_id": "x", "title": "X", "kind": "nonsense"}
    )
    assert bad.status_code == 400
    assert "Unknown section kind" in bad.text
    assert (await api.get("/section/x/")).status_code == 404
    made = await browser.post(
        "/console/sections",
        {
            "section_id": "comedy",
            "title": "Comedy tonight",
            "kind": "genre",
            "params": '{"genre": "Comedy"}',
            "max_items": "12",
        },
    )
    assert made.status_code == 303
    stored = (await api.get("/section/comedy/")).json()
    assert (stored["kind"], stored["params"], stored["max_items"]) == (
        "genre",
        {"genre": "Comedy"},
        12,
    )
    listed = (await api.get("/section/")).json()["sections"]
    assert [s["section_id"] for s in listed] == ["comedy"]  # defining one replaces the default
    await browser.post(
        "/console/sections", {"section_id": "watch", "title": "W", "kind": "watchlist"}
    )
    move = await browser.post("/console/sections/watch/move", {"direction": "up"})
    assert move.status_code == 303
    listed = (await api.get("/section/")).json()["sections"]
    assert [(s["section_id"], s["position"]) for s in listed] == [("watch", 0), ("comedy", 1)]
    assert (await browser.post("/console/sections/comedy/delete", {})).status_code == 303
    assert [s["section_id"] for s in (await api.get("/section/")).json()["sections"]] == ["watch"]
    missing = await browser.post("/console/sections/nope/delete", {})
    assert missing.status_code == 404


async def test_moving_a_default_section_stores_the_default_page(browser: Browser, api: Api) -> None:
    await browser.sign_in(api.key)
    await browser.post("/console/sections/popular/move", {"direction": "up"})
    ids = [s["section_id"] for s in (await api.get("/section/")).json()["sections"]]
    assert ids == [
        "continue_watching",
        "watchlist",
        "recommended",
        "because_you_watched",
        "popular",
        "live_now",
    ]


async def test_hiding_a_section_changes_the_users_page(browser: Browser, api: Api) -> None:
    await api.post("/event/s1/seen/movie/1/")
    await browser.sign_in(api.key)
    page = await browser.get("/console/users/s1")
    before = shown(page.text)
    assert "recommended" in before
    hidden = await browser.post(
        "/console/users/s1/sections/recommended", {"hidden": "1"}, headers={"hx-request": "true"}
    )
    assert hidden.status_code == 200
    assert hidden.text.startswith('<section class="card" id="sections">')
    assert shown(hidden.text) == [s for s in before if s != "recommended"]
    assert "Hidden by the user" in hidden.text
    listed = (await api.get("/list/s1/section/")).json()["items"]
    assert "recommended" not in listed
    assert (await api.get("/event/s1/hide/section/")).json() == {"hide": {"recommended": None}}
    back = await browser.post("/console/users/s1/sections/recommended", {"hidden": "0"})
    assert back.status_code == 303
    assert shown((await browser.get("/console/users/s1")).text) == before
    unknown = await browser.post("/console/users/s1/sections/nope", {"hidden": "1"})
    assert unknown.status_code == 404


async def test_preview_form_goes_to_the_users_page(browser: Browser, api: Api) -> None:
    await browser.sign_in(api.key)
    response = await browser.get("/console/sections?user=s2")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/users/s2#sections"


async def test_the_users_page_shows_each_rows_items(
    browser: Browser, api: Api, admin: Admin
) -> None:
    movie = unique("m")
    await admin.put(f"/catalog/movie/{movie}/", json={"title": "Row Film", "year": 2001})
    await api.post(f"/event/r1/watchlist/movie/{movie}/")
    await browser.sign_in(api.key)
    page = await browser.get("/console/users/r1")
    watchlist = page.text[page.text.index('<li data-section="watchlist">') :]
    watchlist = watchlist[: watchlist.index("</li>")]
    assert '<span class="chip">Row Film (2001)</span>' in watchlist
    served = (await api.get("/sections/r1/")).json()["sections"]
    assert [i["item_id"] for i in served[0]["items"]] == [movie]
