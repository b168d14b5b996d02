"""What writing an answer costs: `GET /event/…?id=` with 10 ids and the bookmark list.

    python -m bench.serialisation [--seconds 5] [--bookmarks 100] [--no-http]

Two measurements, each with its baseline from the same run:

1. In process, from the fields a service has to the bytes of the answer (the objects built,
   turned into JSON, wrapped in a response), beside the same bytes from a dict built by hand
   (how answers were written before typed models, issue 12); the two must be equal.
2. Over HTTP against `tanktop serve` on SQLite, beside the bare `/healthz`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts, serialize_response
from starlette.responses import Response
from tests.servers import create_key, run_cli, running_server, tanktop_env

from bench.bookmarks import catalog_lines, history
from bench.loadgen import Call, ratio_line, run_load
from tanktop.answers import model_json
from tanktop.app import create_app
from tanktop.bookmarks.schemas import Bookmark, BookmarkList
from tanktop.events.schemas import EventList
from tanktop.events.service import ListPage
from tanktop.ids import json_id

ROUTES = {
    context.name: context.original_route
    for context in iter_route_contexts(create_app().routes)
    if isinstance(context.original_route, APIRoute)
}

Render = Callable[[], Awaitable[Response]]
IDS = [str(i) for i in range(1, 11)]
RATINGS = {item_id: float(i % 5) for i, item_id in enumerate(IDS)}


def bookmark_fields(count: int) -> list[dict[str, object]]:
    """What the bookmark rules find for a user with `count` bookmarks, half of them programmes."""
    now = dt.datetime(2026, 11, 27, 21, 5, tzinfo=dt.UTC)
    fields: list[dict[str, object]] = []
    for i in range(count):
        at = now - dt.timedelta(minutes=i, microseconds=i)
        if i % 2:
            fields.append(
                {"item_type": "movie", "item_id": str(100 + i), "position": 12.5, "duration": 100.0}
                | {"updated_at": at}
            )
        else:
            fields.append(
                {"item_type": "programme", "item_id": f"p{i}", "position": 0.0, "duration": 55.0}
                | {"updated_at": at, "episode_id": f"p{i}s1e3", "season": 1, "number": 3}
                | {"status": "next"}
            )
    return fields


async def hello_world() -> Response:
    return JSONResponse({"status": "ok"})


async def through_route(name: str, content: object) -> Response:
    """What FastAPI does with what route `name` returns: a response as it is, anything else
    serialised by the route's response model."""
    if isinstance(content, Response):
        return content
    route = ROUTES[name]
    body = await serialize_response(
        field=route.response_field, response_content=content, dump_json=True
    )
    return Response(body, media_type="application/json")


async def reference_event_list() -> Response:
    """`events.get` with 10 ids as written before issue 12: a dict built by hand."""
    return JSONResponse({"rated": {item_id: RATINGS[item_id] for item_id in IDS}})


@dataclass
class UntypedBookmark:
    """What the bookmark rules built before issue 12, for the router to turn into a dict."""

    item_type: str
    item_id: str
    position: float
    duration: float | None
    updated_at: dt.datetime
    episode_id: str | None = None
    season: int | None = None
    number: int | None = None
    status: str | None = None


async def reference_bookmark_list(fields: list[dict[str, object]]) -> Response:
    """`bookmarks.list` as written before issue 12: a dataclass per bookmark from the rules,
    then a dict built by hand from each."""
    marks = [UntypedBookmark(**f) for f in fields]  # type: ignore[arg-type]
    bodies = []
    for mark in marks:
        body: dict[str, object] = {
            "item_type": mark.item_type,
            "item_id": json_id(mark.item_id),
            "position": mark.position,
            "duration": mark.duration,
            "updated_at": mark.updated_at.isoformat(),
        }
        if mark.item_type == "programme":
            assert mark.episode_id is not None
            body |= {
                "episode_id": json_id(mark.episode_id),
                "season": mark.season,
                "number": mark.number,
                "status": mark.status,
            }
        bodies.append(body)
    return JSONResponse({"bookmarks": bodies})


async def route_event_list() -> Response:
    """`events.get` with 10 ids, the way its service and route write the answer now."""
    page = ListPage({item_id: RATINGS[item_id] for item_id in IDS}, None)
    return await through_route(
        "events.get", model_json(EventList.of("rated", page.items, page.next_cursor))
    )


async def route_bookmark_list(fields: list[dict[str, object]]) -> Response:
    """`bookmarks.list`, the way its service and route write the answer now: the rules build
    a `Bookmark` dataclass per item (no validation), pydantic-core writes the list."""
    marks = [Bookmark(**f) for f in fields]  # type: ignore[arg-type]
    return await through_route("bookmarks.list", BookmarkList(bookmarks=marks))


async def _loops(render: Render) -> int:
    """How many calls make a timed loop of about 0.2 s."""
    loops = 1
    while True:
        started = time.process_time()
        for _ in range(loops):
            await render()
        if time.process_time() - started > 0.2:
            return loops
        loops *= 2


async def _timed(render: Render, loops: int) -> float:
    started = time.process_time()
    for _ in range(loops):
        await render()
    return (time.process_time() - started) / loops * 1e6


async def per_call_us(*renders: Render, rounds: int = 15) -> list[float]:
    """CPU microseconds per answer of each of `renders` (this process's own time, so other work
    on a shared machine counts less): the best of `rounds` timed loops of about 0.2 s each,
    the renders taking turns in every round, so a busy spell slows them alike."""
    loops = [await _loops(render) for render in renders]
    best = [float("inf")] * len(renders)
    for _ in range(rounds):
        for i, render in enumerate(renders):
            best[i] = min(best[i], await _timed(render, loops[i]))
    return best


async def in_process(bookmarks: int) -> None:
    fields = bookmark_fields(bookmarks)
    pairs: list[tuple[str, Render, Render]] = [
        ("GET /event/… ?id x10", reference_event_list, route_event_list),
        (
            f"GET /bookmark/<userid>/ ({bookmarks})",
            lambda: reference_bookmark_list(fields),
            lambda: route_bookmark_list(fields),
        ),
    ]
    for _, reference, route in pairs:
        ours, theirs = (await route()).body, (await reference()).body
        assert ours == theirs, f"not the same bytes:\n{ours!r}\n{theirs!r}"
    (baseline,) = await per_call_us(hello_world)
    print("In process, from fields to response bytes (CPU time, best of 15, taking turns):")
    print(f"  {'hello-world answer':<34} {baseline:8.1f} us")
    for name, reference, route in pairs:
        before, now = await per_call_us(reference, route)
        print(
            f"  {name:<34} {now:8.1f} us   hand-built dict {before:8.1f} us   "
            f"ratio {now / before:.2f}"
        )


def _always(call: Call) -> Callable[[int], Call]:
    return lambda _i: call


async def over_http(base: str, key: str, seconds: float) -> None:
    api = f"{base}/api/1/{key}"
    async with httpx.AsyncClient(timeout=30) as http:
        events = history() + [
            {"user_id": "u", "event": "rated", "item_type": "movie", "item_id": i, "value": v}
            for i, v in RATINGS.items()
        ]
        for start in range(0, len(events), 250):
            response = await http.post(f"{api}/events/", json=events[start : start + 250])
            assert response.status_code == 204, response.text
        count = len((await http.get(f"{api}/bookmark/u/")).json()["bookmarks"])
    query = "&".join(f"id={i}" for i in IDS)
    calls = [
        ("GET /event/… ?id x10", Call("GET", f"{api}/event/u/rated/movie/?{query}")),
        (f"GET /bookmark/u/ ({count})", Call("GET", f"{api}/bookmark/u/")),
    ]
    baseline = await run_load(
        "GET /healthz (baseline)",
        lambda i: Call("GET", f"{base}/healthz"),
        concurrency=8,
        seconds=seconds,
    )
    results = [
        await run_load(name, _always(call), concurrency=8, seconds=seconds) for name, call in calls
    ]
    print("Over HTTP (SQLite, 8 concurrent):")
    for result in (baseline, *results):
        print("  " + result.row())
    for result in results:
        print("  " + ratio_line(result, baseline))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--bookmarks", type=int, default=100)
    parser.add_argument("--no-http", action="store_true", help="only the in-process figures")
    args = parser.parse_args()
    asyncio.run(in_process(args.bookmarks))
    if args.no_http:
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = tanktop_env(f"sqlite:///{Path(tmp) / 'bench.db'}", TANKTOP_KEY_CACHE_SECONDS="60")
        key = create_key(env, "bench-serialisation")
        catalog = Path(tmp) / "catalog.jsonl"
        catalog.write_text("\n".join(catalog_lines()) + "\n")
        assert run_cli(env, "catalog", "import", str(catalog)).returncode == 0
        with running_server(env, "--no-worker") as server:
            asyncio.run(over_http(server.base_url, key, args.seconds))


if __name__ == "__main__":
    main()
