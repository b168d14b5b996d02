"""Notifications end to end inside the process: real webhooks to a real loopback receiver."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from prometheus_client import REGISTRY
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.notifications import queries
from tanktop.notifications.delivery import Outcome, outcome_rows
from tanktop.notifications.matcher import match_catalog_changes
from tanktop.tenants import service as tenants
from tests.conftest import Admin, Api, assert_problem, service_of, unique
from tests.notifications.conftest import run_worker_once
from tests.receiver import Receiver


async def movie_with_offers(admin: Admin, offers: list[dict[str, Any]] | None = None) -> str:
    movie = unique("m")
    await admin.put(f"/catalog/movie/{movie}/", json={"title": "Film"})
    if offers is not None:
        await admin.put(f"/catalog/movie/{movie}/offers/", json=offers)
    return movie


async def test_already_available_is_delivered_at_once_and_verifies(
    api: Api, admin: Admin, db: Database, hook: Receiver, hook_settings: Settings
) -> None:
    movie = await movie_with_offers(admin, [{"source_id": 7, "price": 299, "hd": True}])
    response = await api.post(
        f"/notification/7/movie/{movie}/", json={"url": hook.url, "source_id": [7, 37, 28]}
    )
    assert response.status_code == 204
    await run_worker_once(db, hook_settings)
    assert len(hook.received) == 1
    got = hook.received[0]
    assert got.form == {
        "user_id": "7",
        "item_type": "movie",
        "item_id": movie,
        "source_id": "7",
        "price": "299",
        "hd": "true",
    }
    assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
    secrets = await tenants.show_secrets(db, name=(await service_of(db, api)).name)
    Webhook(secrets[0]).verify(got.body, got.headers, json_parse=False)
    listed = (await api.get("/notification/7/")).json()["notifications"]
    assert listed[0]["notified"] is True
    assert listed[0]["source_id"] == [7, 37, 28]
    await run_worker_once(db, hook_settings)
    assert len(hook.received) == 1, "never sent again once a 2xx is recorded"


async def test_waits_for_a_matching_offer(
    api: Api, admin: Admin, db: Database, hook: Receiver, hook_settings: Settings
) -> None:
    movie = await movie_with_offers(admin)
    await api.post(
        f"/notification/7/movie/{movie}/",
        json={"url": hook.url, "source_id": 7, "price": 300, "hd": True},
    )
    for offers in (
        [{"source_id": 8, "price": 100, "hd": True}],  # wrong source
        [{"source_id": 7, "price": 301, "hd": True}],  # too dear
        [{"source_id": 7, "price": 100, "hd": False}],  # not HD
        [{"source_id": 7, "price": 100, "hd": True, "available_from": "2099-01-01T00:00:00Z"}],
    ):
        await admin.put(f"/catalog/movie/{movie}/offers/", json=offers)
        await run_worker_once(db, hook_settings)
        assert hook.received == []
    await admin.put(
        f"/catalog/movie/{movie}/offers/", json=[{"source_id": 7, "price": 300, "hd": True}]
    )
    await run_worker_once(db, hook_settings)
    assert [r.form["item_id"] for r in hook.received] == [movie]


async def test_programme_satisfied_by_an_episode(
    api: Api, admin: Admin, db: Database, hook: Receiver, hook_settings: Settings
) -> None:
    show, episode = unique("p"), unique("e")
    await admin.put(f"/catalog/programme/{show}/", json={"title": "Show"})
    await admin.put(
        f"/catalog/episode/{episode}/", json={"programme_id": show, "season": 1, "number": 1}
    )
    await api.post(f"/notification/7/programme/{show}/", json={"url": hook.url})
    await run_worker_once(db, hook_settings)
    assert hook.received == []
    await admin.put(f"/catalog/episode/{episode}/offers/", json=[{"source_id": 1}])
    await run_worker_once(db, hook_settings)
    assert [(r.form["item_type"], r.form["item_id"]) for r in hook.received] == [
        ("programme", show)
    ]


async def test_form_body_and_default_url(
    api: Api, admin: Admin, db: Database, hook: Receiver, hook_settings: Settings
) -> None:
    service = await service_of(db, api)
    movie = await movie_with_offers(admin, [{"source_id": 37, "price": 0, "hd": True}])
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert_problem(
        await api.post(f"/notification/7/movie/{movie}/", content=b"hd=1", headers=form), 400, "url"
    )
    await tenants.set_webhook_url(db, name=service.name, url=hook.url)
    response = await api.post(
        f"/notification/7/movie/{movie}/",
        content=b"source_id=7&source_id=37,28&hd=true&price=10",
        headers=form,
    )
    assert response.status_code == 204
    got = (await api.get(f"/notification/7/movie/{movie}/")).json()["notifications"][0]
    assert got["url"] == hook.url
    assert got["source_id"] == [7, 37, 28]
    assert (got["hd"], got["price"]) == (True, 10)
    await run_worker_once(db, hook_settings)
    assert len(hook.received) == 1


async def test_bad_requests_store_nothing(api: Api) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("movie/1", {"url": "ftp://x.example/"}, "http"),
        ("movie/1", {"url": "not a url"}, "http"),
        ("movie/1", {"url": "http://x.example/", "price": -1}, "price"),
        ("movie/1", {"url": "http://x.example/", "price": 2.5}, "price"),
        ("movie/1", {"url": "http://x.example/", "price": 2213397222224485416960}, "10,000,000"),
        ("movie/1", {"url": "http://x.example/", "price": "\u00b2"}, "price"),
        ("movie/1", {"url": "http://x.example/", "hd": "maybe"}, "hd"),
        ("movie/1", {"url": "http://x.example/", "colour": "red"}, "colour"),
        ("movie/1", {"url": "http://x.example/", "source_id": [{"a": 1}]}, "source_id"),
        ("episode/1", {"url": "http://x.example/"}, "movie, programme, sport, team"),
    ]
    for path, body, words in cases:
        assert_problem(await api.post(f"/notification/7/{path}/", json=body), 400, words)
    assert_problem(
        await api.post(
            "/notification/7/movie/1/", content=b"<x/>", headers={"content-type": "text/xml"}
        ),
        415,
    )
    assert (await api.get("/notification/7/")).json() == {"notifications": []}


async def test_three_levels_of_get_and_delete(api: Api) -> None:
    url = {"url": "http://receiver.invalid/hook"}
    for path in ("movie/a", "movie/b", "programme/c", "team/arsenal"):
        assert (await api.post(f"/notification/7/{path}/", json=url)).status_code == 204

    async def ids(path: str) -> list[Any]:
        return [n["item_id"] for n in (await api.get(path)).json()["notifications"]]

    assert sorted(await ids("/notification/7/")) == ["a", "arsenal", "b", "c"]
    assert sorted(await ids("/notification/7/movie/")) == ["a", "b"]
    assert await ids("/notification/7/movie/a/") == ["a"]
    assert (await api.delete("/notification/7/movie/a/")).status_code == 204
    assert sorted(await ids("/notification/7/")) == ["arsenal", "b", "c"]
    assert (await api.delete("/notification/7/movie/")).status_code == 204
    assert sorted(await ids("/notification/7/")) == ["arsenal", "c"]
    assert (await api.delete("/notification/7/")).status_code == 204
    assert await ids("/notification/7/") == []
    assert (await api.delete("/notification/7/")).status_code == 204


async def test_second_post_resets_notified(
    api: Api, admin: Admin, db: Database, hook: Receiver, hook_settings: Settings
) -> None:
    movie = await movie_with_offers(admin, [{"source_id": 1}])
    await api.post(f"/notification/7/movie/{movie}/", json={"url": hook.url})
    await run_worker_once(db, hook_settings)
    await api.post(f"/notification/7/movie/{movie}/", json={"url": hook.url, "hd": True})
    listed = (await api.get(f"/notification/7/movie/{movie}/")).json()["notifications"]
    assert listed[0]["notified"] is False
    await admin.put(f"/catalog/movie/{movie}/offers/", json=[{"source_id": 1, "hd": True}])
    await run_worker_once(db, hook_settings)
    assert len(hook.received) == 2
    assert hook.received[0].headers["webhook-id"] != hook.received[1].headers["webhook-id"]


async def test_retries_keep_the_webhook_id_and_log_attempts(
    api: Api, admin: Admin, db: Database, hook: Receiver, hook_settings: Settings
) -> None:
    hook.statuses = [500, 503]
    movie = await movie_with_offers(admin, [{"source_id": 1}])
    await api.post(f"/notification/7/movie/{movie}/", json={"url": hook.url})

    def delivered(outcome: str) -> float:
        name = "tanktop_webhook_deliveries_total"
        return REGISTRY.get_sample_value(name, {"outcome": outcome}) or 0.0

    retries, successes = delivered("retry"), delivered("succeeded")
    await run_worker_once(db, hook_settings)
    assert len(hook.received) == 3
    assert delivered("retry") - retries >= 2, "webhook outcomes are counted for /metrics"
    assert delivered("succeeded") - successes >= 1
    assert len({r.headers["webhook-id"] for r in hook.received}) == 1
    log = (await api.get(f"/notification/7/movie/{movie}/deliveries/")).json()["deliveries"]
    assert [a["status_code"] for a in log[0]["attempts"]] == [500, 503, 200]
    assert log[0]["attempts"][0]["response"] == "answer 500"
    assert log[0]["status"] == "succeeded"
    assert (await api.get(f"/notification/7/movie/{movie}/")).json()["notifications"][0][
        "notified"
    ] is True


async def test_410_stops_at_once_and_resend_tries_again(
    api: Api, admin: Admin, db: Database, hook: Receiver, hook_settings: Settings
) -> None:
    hook.statuses = [410]
    movie = await movie_with_offers(admin, [{"source_id": 1}])
    await api.post(f"/notification/7/movie/{movie}/", json={"url": hook.url})
    await run_worker_once(db, hook_settings)
    assert len(hook.received) == 1
    got = (await api.get(f"/notification/7/movie/{movie}/")).json()["notifications"][0]
    assert (got["notified"], got["status"]) == (False, "failed")
    resend = await api.post(f"/notification/7/movie/{movie}/resend/")
    assert resend.status_code == 202
    await run_worker_once(db, hook_settings)
    assert len(hook.received) == 2
    assert hook.received[0].headers["webhook-id"] == hook.received[1].headers["webhook-id"]
    assert (await api.get(f"/notification/7/movie/{movie}/")).json()["notifications"][0][
        "notified"
    ] is True
    assert_problem(await api.post(f"/notification/7/movie/{movie}/resend/"), 404)


async def test_failed_after_the_last_attempt(
    api: Api, admin: Admin, db: Database, hook: Receiver, hook_settings: Settings
) -> None:
    hook.statuses = [500] * 10
    movie = await movie_with_offers(admin, [{"source_id": 1}])
    await api.post(f"/notification/7/movie/{movie}/", json={"url": hook.url})
    await run_worker_once(db, hook_settings)
    assert len(hook.received) == 4, "the first try and three retries"
    got = (await api.get(f"/notification/7/movie/{movie}/")).json()["notifications"][0]
    assert got["status"] == "failed"


async def test_sports_and_teams_notify_once_per_content(
    api: Api, admin: Admin, db: Database, hook: Receiver, hook_settings: Settings
) -> None:
    sport, team, show, channel = unique("sport"), unique("team"), unique("p"), unique("c")
    await api.post(f"/notification/7/sport/{sport}/", json={"url": hook.url})
    await api.post(f"/notification/8/team/{team}/", json={"url": hook.url, "source_id": channel})
    await admin.put(f"/catalog/programme/{show}/", json={"title": "Match of the day"})
    await admin.put(f"/catalog/channel/{channel}/", json={"name": "Sport"})
    matches = [unique("e"), unique("e")]
    for n, match in enumerate(matches):
        await admin.put(
            f"/catalog/episode/{match}/",
            json={
                "programme_id": show,
                "season": 1,
                "number": n,
                "sport": sport,
                "teams": [team, "x"],
            },
        )
    await admin.put(f"/catalog/episode/{matches[0]}/offers/", json=[{"source_id": 1}])
    await admin.put(
        f"/schedule/{channel}/",
        json=[
            {
                "start": "2026-12-01T20:00:00Z",
                "end": "2026-12-01T22:00:00Z",
                "item_type": "episode",
                "item_id": matches[1],
            }
        ],
    )
    await run_worker_once(db, hook_settings)
    got = sorted(
        (r.form["user_id"], r.form["item_type"], r.form["content_id"]) for r in hook.received
    )
    assert got == sorted(
        [("7", "sport", matches[0]), ("7", "sport", matches[1]), ("8", "team", matches[1])]
    )
    await admin.put(f"/catalog/episode/{matches[0]}/offers/", json=[{"source_id": 2}])
    await run_worker_once(db, hook_settings)
    assert len(hook.received) == 3, "one notification per content item"


async def test_services_are_isolated(
    api: Api,
    other_api: Api,
    admin: Admin,
    db: Database,
    hook: Receiver,
    hook_settings: Settings,
) -> None:
    movie = await movie_with_offers(admin, [{"source_id": 1}])
    await api.post(f"/notification/7/movie/{movie}/", json={"url": hook.url})
    assert (await other_api.get("/notification/7/")).json() == {"notifications": []}
    await other_api.delete("/notification/7/")
    assert_problem(await other_api.get(f"/notification/7/movie/{movie}/deliveries/"), 404)
    await run_worker_once(db, hook_settings)
    assert [r.form["user_id"] for r in hook.received] == ["7"]
    secrets = await tenants.show_secrets(db, name=(await service_of(db, other_api)).name)
    assert secrets
    with pytest.raises(WebhookVerificationError):
        Webhook(secrets[0]).verify(
            hook.received[0].body, hook.received[0].headers, json_parse=False
        )


async def test_an_outcome_is_recorded_once_and_only_by_the_lease_holder(
    api: Api, admin: Admin, db: Database, hook_settings: Settings
) -> None:
    """Recording a batch again (its first commit's outcome unknown after a lost connection)
    records nothing twice; a worker whose lease another took over records nothing."""
    movie = await movie_with_offers(admin, [{"source_id": 1}])
    await api.post(f"/notification/7/movie/{movie}/", json={"url": "http://127.0.0.1:9/hook"})
    while await match_catalog_changes(db, settings=hook_settings):
        pass
    lapsed = dt.timedelta(microseconds=1)  # other tests' due rows are not held up

    async def claim() -> Any:
        async with db.write() as conn:
            claimed = await queries.claim_due(conn, utcnow(), lapsed, 1000)
        return next(d for d in claimed if d.item_id == movie)

    async def record(delivery: Any, status: int) -> int:
        rows = [outcome_rows(hook_settings, delivery, Outcome(status, 1.0), utcnow())]
        async with db.write() as conn:
            return await queries.record_outcomes(conn, rows)

    first = await claim()
    assert [await record(first, 500), await record(first, 500)] == [1, 0]
    second, third = await claim(), await claim()  # the third: another worker after the lease
    assert [await record(second, 200), await record(third, 200)] == [0, 1]
    log = (await api.get(f"/notification/7/movie/{movie}/deliveries/")).json()["deliveries"]
    assert [a["status_code"] for a in log[0]["attempts"]] == [500, 200]
    assert log[0]["status"] == "succeeded"
