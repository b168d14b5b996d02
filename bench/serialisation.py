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
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi.responses import JSONResponse
from starlette.responses import Response
from tests.servers import create_key, run_cli, running_server, tanktop_env

from bench.bookmarks import catalog_lines, history
from bench.loadgen import Call, ratio_line, run_load
from tanktop.bookmarks.rules import Bookmark
from tanktop.bookmarks.service import bookmark_json
from tanktop.events.service import ListPage
from tanktop.ids import json_id

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


def hello_world() -> Response:
    return JSONResponse({"status": "ok"})


def reference_event_list() -> Response:
    """`events.get` with 10 ids as written before issue 12: a dict built by hand."""
    return JSONResponse({"rated": {item_id: RATINGS[item_id] for item_id in IDS}})


def reference_bookmark_list(fields: list[dict[str, object]]) -> Response:
    """`bookmarks.list` as written before issue 12: each bookmark a dict built by hand."""
    marks = []
    for f in fields:
        updated_at = f["updated_at"]
        assert isinstance(updated_at, dt.datetime)
        body = {
            "item_type": f["item_type"],
            "item_id": json_id(str(f["item_id"])),
            "position": f["position"],
            "duration": f["duration"],
            "updated_at": updated_at.isoformat(),
        }
        if f["item_type"] == "programme":
            body |= {
                "episode_id": json_id(str(f["episode_id"])),
                "season": f["season"],
                "number": f["number"],
                "status": f["status"],
            }
        marks.append(body)
    return JSONResponse({"bookmarks": marks})


def route_event_list() -> Response:
    """`events.get` with 10 ids, the way its route writes the answer now."""
    page = ListPage({item_id: RATINGS[item_id] for item_id in IDS}, None)
    body: dict[str, object] = {"rated": page.items}
    if page.next_cursor:
        body["next_cursor"] = page.next_cursor
    return JSONResponse(body)


def route_bookmark_list(fields: list[dict[str, object]]) -> Response:
    """`bookmarks.list`, the way its route writes the answer now."""
    marks = [Bookmark(**f) for f in fields]  # type: ignore[arg-type]
    return JSONResponse({"bookmarks": [bookmark_json(m) for m in marks]})


def per_call_us(render: Callable[[], Response], *, rounds: int = 5) -> float:
    """Microseconds per answer: the best of `rounds` timed loops of about 0.2 s each."""
    loops = 1
    while True:
        started = time.perf_counter()
        for _ in range(loops):
            render()
        if time.perf_counter() - started > 0.2:
            break
        loops *= 2
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(loops):
            render()
        best = min(best, (time.perf_counter() - started) / loops)
    return best * 1e6


def in_process(bookmarks: int) -> None:
    fields = bookmark_fields(bookmarks)
    pairs: list[tuple[str, Callable[[], Response], Callable[[], Response]]] = [
        ("GET /event/… ?id x10", reference_event_list, route_event_list),
        (
            f"GET /bookmark/<userid>/ ({bookmarks})",
            lambda: reference_bookmark_list(fields),
            lambda: route_bookmark_list(fields),
        ),
    ]
    for _, reference, route in pairs:
        assert route().body == reference().body, "the route's answer is not the same bytes"
    baseline = per_call_us(hello_world)
    print("In process, from fields to response bytes (best of 5):")
    print(f"  {'hello-world answer':<34} {baseline:8.1f} us")
    for name, reference, route in pairs:
        before, now = per_call_us(reference), per_call_us(route)
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
    in_process(args.bookmarks)
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
