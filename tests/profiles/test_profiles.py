"""User profiles (seed section 1, API.md) through the ASGI app, on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tests.conftest import Api, assert_problem


async def test_put_creates_then_replaces(api: Api) -> None:
    created = await api.put("/user/7/", json={"name": "Sam", "age": 30})
    assert created.status_code == 201
    assert created.json() == {"name": "Sam", "age": 30, "id": "7"}

    replaced = await api.put("/user/7/", json={"name": "Alex"})
    assert replaced.status_code == 200
    assert replaced.json() == {"name": "Alex", "id": "7"}
    assert (await api.get("/user/7/")).json() == {"name": "Alex", "id": "7"}


async def test_put_accepts_matching_id_and_empty_body(api: Api) -> None:
    assert (await api.put("/user/u1/", json={"id": "u1", "x": 1})).json() == {"id": "u1", "x": 1}
    empty = await api.put("/user/u2/")
    assert empty.status_code == 201
    assert empty.json() == {"id": "u2"}


async def test_post_chooses_unguessable_id_and_location(api: Api) -> None:
    first = await api.post("/user/", json={"name": "Sam"})
    second = await api.post("/user/")
    assert first.status_code == second.status_code == 201
    user_id = first.json()["id"]
    assert first.json() == {"name": "Sam", "id": user_id}
    assert 20 <= len(user_id) <= 32
    assert user_id != second.json()["id"]
    location = first.headers["location"]
    assert location.endswith(f"/api/1/{api.key}/user/{user_id}/")
    fetched = await api.http.get(location)
    assert fetched.json() == {"name": "Sam", "id": user_id}


async def test_post_refuses_a_chosen_id(api: Api) -> None:
    assert_problem(await api.post("/user/", json={"id": "mine"}), 400, "PUT")


async def test_patch_is_json_merge_patch(api: Api) -> None:
    await api.put("/user/7/", json={"name": "Sam", "prefs": {"lang": "en", "hd": True}, "old": 1})
    patched = await api.patch(
        "/user/7/", json={"prefs": {"lang": "fr", "hd": None}, "old": None, "tags": ["a"]}
    )
    assert patched.status_code == 200
    expected = {"name": "Sam", "prefs": {"lang": "fr"}, "tags": ["a"], "id": "7"}
    assert patched.json() == expected
    assert (await api.get("/user/7/")).json() == expected


async def test_post_to_user_patches_too(api: Api) -> None:
    await api.put("/user/7/", json={"a": 1})
    response = await api.post("/user/7/", json={"b": 2})
    assert response.status_code == 200
    assert response.json() == {"a": 1, "b": 2, "id": "7"}


async def test_patch_of_absent_user_is_404(api: Api) -> None:
    assert_problem(await api.patch("/user/ghost/", json={"a": 1}), 404, "ghost")
    assert_problem(await api.get("/user/ghost/"), 404)


async def test_delete_deactivates_and_put_recreates(api: Api) -> None:
    await api.put("/user/7/", json={"secret": "x"})
    deleted = await api.delete("/user/7/")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(await api.get("/user/7/"), 404)
    assert_problem(await api.patch("/user/7/", json={"a": 1}), 404)
    assert_problem(await api.delete("/user/7/"), 404)
    again = await api.put("/user/7/", json={"new": True})
    assert again.status_code == 201
    assert again.json() == {"new": True, "id": "7"}


async def test_reserved_and_mismatched_keys_store_nothing(api: Api) -> None:
    assert_problem(await api.put("/user/7/", json={"_rank": 1}), 400, "_rank")
    assert_problem(await api.post("/user/", json={"_x": 1}), 400, "reserved")
    assert_problem(await api.put("/user/7/", json={"id": "8"}), 400, "id")
    assert_problem(await api.get("/user/7/"), 404)

    await api.put("/user/7/", json={"a": 1, "nested": {"_ok": True}})
    assert_problem(await api.patch("/user/7/", json={"_x": 1, "a": 2}), 400, "_x")
    assert_problem(await api.patch("/user/7/", json={"id": "8", "a": 2}), 400, "id")
    assert_problem(await api.patch("/user/7/", json={"id": None}), 400, "id")
    assert (await api.get("/user/7/")).json() == {"a": 1, "nested": {"_ok": True}, "id": "7"}


async def test_malformed_bodies_are_400_and_store_nothing(api: Api) -> None:
    json_type = {"content-type": "application/json"}
    cases = [
        (b'{"a": ', "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"text"', "JSON object"),
        (b'{"a": NaN}', "NaN"),
        (b"\xff\xfe", "UTF-8"),
        (b"[[1]]", "JSON object"),
        (b"[" * 5000 + b"]" * 5000, "deeper"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "deeper"),
    ]
    for body, words in cases:
        assert_problem(await api.put("/user/7/", content=body, headers=json_type), 400, words)
    assert_problem(await api.get("/user/7/"), 404)


async def test_wrong_content_type_is_415(api: Api) -> None:
    response = await api.put(
        "/user/7/",
        content=b"name=Sam",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415, "application/json")
    assert_problem(await api.get("/user/7/"), 404)


async def test_json_subtypes_and_charset_are_accepted(api: Api) -> None:
    response = await api.put(
        "/user/7/", content=b'{"a": 1}', headers={"content-type": "application/merge-patch+json"}
    )
    assert response.status_code == 201
    response = await api.patch(
        "/user/7/", content=b'{"b": 1}', headers={"content-type": "application/json; charset=utf-8"}
    )
    assert response.json() == {"a": 1, "b": 1, "id": "7"}


async def test_oversize_body_is_413_and_stores_nothing(api: Api) -> None:
    big = {"blob": "x" * (64 * 1024)}
    assert_problem(await api.put("/user/7/", json=big), 413, "bytes")
    assert_problem(await api.get("/user/7/"), 404)
    just_fits = {"blob": "x" * (64 * 1024 - 20)}
    assert (await api.put("/user/7/", json=just_fits)).status_code == 201


async def test_oversize_streamed_body_without_length_is_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(70):
            yield b" " * 1024

    response = await api.put(
        "/user/7/", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


async def test_user_id_rules(api: Api) -> None:
    longest = "u" * 32
    assert (await api.put(f"/user/{longest}/", json={})).status_code == 201
    assert_problem(await api.put(f"/user/{'u' * 33}/", json={}), 400, "userid")
    for bad in ("a%20b", "a%2Fb", "a%2fb", "%C3%A9", "a%00b", "a%5Cb"):
        assert_problem(await api.put(f"/user/{bad}/", json={}), 400)
    for good in ("a.b", "a:b", "a@b", "a_b-c"):
        assert (await api.put(f"/user/{good}/", json={})).status_code == 201


async def test_trailing_slash_is_optional_without_redirect(api: Api) -> None:
    assert (await api.put("/user/7", json={"a": 1})).status_code == 201
    for path in ("/user/7", "/user/7/"):
        response = await api.get(path)
        assert response.status_code == 200
        assert response.json() == {"a": 1, "id": "7"}
    no_slash = await api.post("/user", json={})
    assert no_slash.status_code == 201


async def test_unknown_and_revoked_keys_are_401(api: Api) -> None:
    from tanktop.tenants import service as tenants

    assert_problem(await api.http.get("/api/1/tt_notarealkey000000/user/7/"), 401, "unknown")
    assert_problem(await api.http.get("/api/1/short/user/7/"), 401)
    await api.put("/user/7/", json={})
    db = api.http._transport.app.state.db  # type: ignore[attr-defined]
    assert await tenants.revoke_key(db, key=api.key)
    assert_problem(await api.get("/user/7/"), 401, "revoked")
    assert_problem(await api.put("/user/8/", json={}), 401)


async def test_services_never_see_each_others_profiles(api: Api, other_api: Api) -> None:
    await api.put("/user/7/", json={"owner": "a"})
    assert_problem(await other_api.get("/user/7/"), 404)
    assert_problem(await other_api.patch("/user/7/", json={"x": 1}), 404)
    assert_problem(await other_api.delete("/user/7/"), 404)
    assert (await other_api.put("/user/7/", json={"owner": "b"})).status_code == 201
    assert (await api.get("/user/7/")).json() == {"owner": "a", "id": "7"}
    assert (await other_api.get("/user/7/")).json() == {"owner": "b", "id": "7"}


async def test_concurrent_patches_of_different_keys_all_land(api: Api) -> None:
    await api.put("/user/7/", json={})
    responses = await asyncio.gather(*(api.patch("/user/7/", json={f"k{i}": i}) for i in range(50)))
    assert all(r.status_code == 200 for r in responses)
    profile = (await api.get("/user/7/")).json()
    assert profile == {"id": "7", **{f"k{i}": i for i in range(50)}}
