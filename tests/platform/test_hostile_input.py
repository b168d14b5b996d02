"""Input a database cannot store (NUL, unpaired surrogates, numbers out of a column's range)
is refused with a 400 naming the field, the same on SQLite and PostgreSQL, before any SQL runs
(text from elsewhere, a webhook receiver's answer, is stored made safe: see
tests/notifications/test_hostile_answers.py)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import Admin, Api, assert_problem, unique

NUL = "\u0000"
SURROGATE = "\ud800"


def raw_json(value: object) -> bytes:
    """JSON with `\\u0000`/`\\ud800` escapes, as a hostile client would send it."""
    return json.dumps(value).encode()


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
async def test_profiles_refuse_unstorable_text_in_values_and_keys(api: Api, bad: str) -> None:
    headers = {"content-type": "application/json"}
    put = await api.put("/user/7/", content=raw_json({"name": f"Sa{bad}m"}), headers=headers)
    assert_problem(put, 400, "name", "cannot be stored")
    nested = raw_json({"favourites": {"genres": ["comedy", f"x{bad}"]}})
    assert_problem(
        await api.post("/user/", content=nested, headers=headers), 400, "favourites.genres[1]"
    )
    assert (await api.put("/user/7/", json={"name": "Sam"})).status_code == 201
    key = raw_json({"favourites": {f"k{bad}": 1}})
    assert_problem(await api.patch("/user/7/", content=key, headers=headers), 400, "a key in")
    assert (await api.get("/user/7/")).json() == {"id": "7", "name": "Sam"}, "nothing changed"


async def test_profiles_keep_numbers_as_json_has_them(api: Api) -> None:
    body = {"big": 10**40, "small": -(10**40), "fraction": 0.1, "tiny": 5e-324}
    assert (await api.put("/user/7/", json=body)).status_code == 201
    assert (await api.get("/user/7/")).json() == {"id": "7", **body}
    headers = {"content-type": "application/json"}
    overflow = await api.put("/user/7/", content=b'{"n": 1e400}', headers=headers)
    assert_problem(overflow, 400, "out of range")


def one_event(event: str, value: object) -> bytes:
    return raw_json(
        [{"user_id": "7", "event": event, "item_type": "movie", "item_id": 1, "value": value}]
    )


async def test_event_values_are_checked(api: Api) -> None:
    assert_problem(await api.post("/event/7/note/movie/1/a%00b/"), 400, "NUL")
    assert_problem(await api.post("/event/7/seen/movie/1/?x=%00"), 400, "NUL")
    headers = {"content-type": "application/json"}
    for body, words in [
        (one_event("note", f"a{NUL}b"), ("[0].value", "cannot be stored")),
        (one_event("rated", 10**19), ("within",)),
        (one_event("rated", -(10**19)), ("within",)),
        (one_event("rated", 1).replace(b"1}]", b"1e999}]"), ("out of range",)),
    ]:
        assert_problem(await api.post("/events/", content=body, headers=headers), 400, *words)
    assert (await api.post("/event/7/rated/movie/1/9223372036854775807/")).status_code == 204
    assert (await api.post("/event/7/note/movie/1/caf%C3%A9/")).status_code == 204
    got = (await api.get("/event/7/note/movie/")).json()["note"]
    assert got == {"1": "café"}


async def test_notification_urls_and_fields_are_checked(api: Api) -> None:
    for url in (f"http://example.com/{NUL}", "http://example.com/a b", "http://exa\tmple.com/"):
        response = await api.post("/notification/7/movie/1/", json={"url": url})
        assert_problem(response, 400, "url")
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = await api.post(
        "/notification/7/movie/1/", content=b"url=http://e.com/%00", headers=form
    )
    assert_problem(response, 400, "form body", "NUL")
    surrogate = raw_json({"url": f"http://example.com/{SURROGATE}"})
    headers = {"content-type": "application/json"}
    response = await api.post("/notification/7/movie/1/", content=surrogate, headers=headers)
    assert_problem(response, 400, "url", "cannot be stored")
    assert (await api.get("/notification/7/")).json() == {"notifications": []}


async def test_catalog_admin_bodies_are_checked(admin: Admin) -> None:
    movie = unique("h")
    headers = {"content-type": "application/json"}
    title = raw_json({"title": f"Ali{NUL}en"})
    assert_problem(
        await admin.put(f"/catalog/movie/{movie}/", content=title, headers=headers), 400, "title"
    )
    genres = raw_json({"title": "Alien", "genres": [f"Hor{SURROGATE}ror"]})
    assert_problem(
        await admin.put(f"/catalog/movie/{movie}/", content=genres, headers=headers),
        400,
        "genres[0]",
    )
    assert (await admin.get(f"/catalog/movie/{movie}/")).status_code == 404


async def test_query_numbers_and_ids_are_range_checked(api: Api) -> None:
    for path in (
        "/list/7/movie/?max_price=1065953174765",
        "/recommendation/7/?max_price=1065953174765",
        "/recommendation/7/movie/?max_price=99999999999999999999",
        "/list/7/movie/?max_price=-1",
    ):
        assert_problem(await api.get(path), 400, "max_price")
    assert_problem(await api.get("/list/7/movie/?source_id=a%20b"), 400, "source_id")
    assert (await api.get("/list/7/movie/?max_price=10000000")).status_code == 200


def forged(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        forged("0001-01-01T00:00:00+05:00", "1"),  # below the calendar in UTC
        forged("9999-12-31T23:00:00-05:00", "1"),  # above it
        forged("2026-01-01T00:00:00+00:00", f"a{NUL}"),
        forged("2026-01-01T00:00:00+00:00", f"a{SURROGATE}"),
    ],
)
async def test_forged_cursors_are_400(api: Api, cursor: str) -> None:
    assert_problem(await api.get(f"/event/7/seen/movie/?limit=1&cursor={cursor}"), 400, "cursor")
