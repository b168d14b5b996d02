"""Console Recommender page over HTTP (both backends): the operator stores settings versions,
rolls back to an earlier one and trains the service's model; a service's key may not."""

from __future__ import annotations

import asyncio
import json

from tanktop.db import Database
from tanktop.recommendations.settings import current_settings, settings_versions
from tanktop.recommendations.stored import save_tuning_report, stored_models
from tests.conftest import Api, service_of
from tests.console.conftest import Browser
from tests.console.test_console_oauth import as_operator_on


def settings_form(weights: dict[str, float], **params: float) -> dict[str, str]:
    return {"settings": json.dumps({"weights": weights, "params": params})}


async def test_operator_stores_a_version_and_rolls_back(
    browser: Browser, api: Api, db: Database
) -> None:
    await as_operator_on(browser, db, api)
    service = await service_of(db, api)
    page = await browser.get("/console/recommender")
    assert page.status_code == 200
    assert "the defaults" in page.text
    stored = await browser.post("/console/recommender/settings", settings_form({"like": 2.5}))
    assert stored.status_code == 303
    assert (await current_settings(db, service.id)).weights["like"] == 2.5
    page = await browser.get("/console/recommender")
    assert "version 1" in page.text
    assert "<code>like</code>" in page.text

    for bad, says in [
        ("{not json", "Not JSON"),
        (json.dumps({"weights": {"like": "lots"}}), "weights.like"),
        (json.dumps({"weights": {"hide": 1.0}}), "hide must stay negative"),
        (json.dumps({"knobs": {}}), "knobs"),
    ]:
        refused = await browser.post("/console/recommender/settings", {"settings": bad})
        assert refused.status_code == 400, bad
        assert says in refused.text, (bad, refused.text[:2000])
        assert bad.replace('"', "&#34;") in refused.text, "the draft is kept to fix it"
    assert [v.version for v in await settings_versions(db, service)] == [1]

    await browser.post("/console/recommender/settings", settings_form({"like": 0.1}, rating_max=10))
    assert (await current_settings(db, service.id)).params.rating_max == 10
    back = await browser.post("/console/recommender/restore", {"version": "1"})
    assert back.status_code == 303
    now = await current_settings(db, service.id)
    assert (now.version, now.weights["like"], now.params.rating_max) == (3, 2.5, 5.0)
    unknown = await browser.post("/console/recommender/restore", {"version": "99"})
    assert unknown.status_code == 303
    assert [v.version for v in await settings_versions(db, service)] == [3, 2, 1]


async def test_train_now_stores_a_model(browser: Browser, api: Api, db: Database) -> None:
    for user in range(1, 6):
        for movie in (1, 2, 3):
            await api.post(f"/event/{user}/seen/movie/{movie}/")
    await as_operator_on(browser, db, api)
    service = await service_of(db, api)
    assert "No model trained yet" in (await browser.get("/console/recommender")).text
    started = await browser.post("/console/recommender/train", {})
    assert started.status_code == 303
    for _ in range(200):
        models = await stored_models(db, service.id)
        if models:
            break
        await asyncio.sleep(0.05)
    assert [m.events for m in models] == [15]
    assert "No model trained yet" not in (await browser.get("/console/recommender")).text


async def test_a_services_key_cannot_open_the_recommender(browser: Browser, api: Api) -> None:
    await browser.sign_in(api.key)
    assert (await browser.get("/console/recommender")).status_code == 403
    refused = await browser.post("/console/recommender/settings", settings_form({"like": 1.0}))
    assert refused.status_code == 403
    assert (await browser.post("/console/recommender/train", {})).status_code == 403
    assert "/console/recommender" not in (await browser.get("/console/")).text


async def test_the_page_shows_what_tuning_runs_found(
    browser: Browser, api: Api, db: Database
) -> None:
    await as_operator_on(browser, db, api)
    service = await service_of(db, api)
    assert "No tuning run yet" in (await browser.get("/console/recommender")).text
    spread = {"mean": 0.25, "std": 0.01}
    better = {"mean": 0.3125, "std": 0.02}
    await save_tuning_report(
        db,
        service.id,
        trials=30,
        measured={
            "current": {"ndcg": spread, "recall": spread, "coverage": spread, "users": 40},
            "tuned": {"ndcg": better, "recall": spread, "coverage": spread, "users": 40},
            "changes": ["weights.click: 5 -> 0.8"],
        },
        applied_version=None,
    )
    page = (await browser.get("/console/recommender")).text
    assert "30 trials · 40 test users" in page
    assert "0.3125" in page
    assert "weights.click: 5 -&gt; 0.8" in page
    assert "not applied" in page
