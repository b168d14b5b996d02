"""HTTP for section 5 of the public document: bookmarks ("continue watching")."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tanktop.answers import JSON_ID, TIMESTAMP, answer, array_of, nullable, record
from tanktop.auth import ServiceDep
from tanktop.bookmarks import service as bookmarks
from tanktop.catalog.facts import CatalogFactsDep
from tanktop.db import DatabaseDep
from tanktop.errors import problem_responses
from tanktop.ids import ItemId, ItemType, UserId

router = APIRouter(prefix="/api/1/{apikey}", tags=["Bookmarks"])

_EXAMPLE = {
    "item_type": "programme",
    "item_id": 1001,
    "position": 0,
    "duration": 55,
    "updated_at": "2026-11-27T21:05:00+00:00",
    "episode_id": "1001-s1e3",
    "season": 1,
    "number": 3,
    "status": "next",
}
_BOOKMARK = record(
    {
        "item_type": {"type": "string", "enum": ["movie", "programme"]},
        "item_id": JSON_ID,
        "position": {"type": "number", "description": "Minutes."},
        "duration": nullable({"type": "number", "description": "Minutes, when known."}),
        "updated_at": TIMESTAMP,
    },
    {
        "episode_id": JSON_ID,
        "season": {"type": "integer"},
        "number": {"type": "integer"},
        "status": {"type": "string", "enum": ["in_progress", "next"]},
    },
)


@router.get(
    "/bookmark/{userid}/",
    name="bookmarks.list",
    summary="The user's bookmarks, most recent activity first (currently watching)",
    responses={
        200: answer(
            "Bookmarks.", record({"bookmarks": array_of(_BOOKMARK)}), {"bookmarks": [_EXAMPLE]}
        ),
        **problem_responses(400, 401),
    },
)
async def list_bookmarks(
    userid: UserId, service: ServiceDep, db: DatabaseDep, facts: CatalogFactsDep
) -> JSONResponse:
    marks = await bookmarks.bookmarks(db, service, user_id=userid, facts=facts)
    return JSONResponse({"bookmarks": [bookmarks.bookmark_json(m) for m in marks]})


@router.get(
    "/bookmark/{userid}/{itemtype}/{itemid}/",
    name="bookmarks.get",
    summary="The bookmark in a movie or programme (an episode answers for its programme)",
    responses={
        200: answer("The bookmark.", _BOOKMARK, _EXAMPLE),
        **problem_responses(400, 401, 404),
    },
)
async def get_bookmark(
    userid: UserId,
    itemtype: ItemType,
    itemid: ItemId,
    service: ServiceDep,
    db: DatabaseDep,
    facts: CatalogFactsDep,
) -> JSONResponse:
    mark = await bookmarks.bookmark(
        db, service, user_id=userid, item_type=itemtype, item_id=itemid, facts=facts
    )
    return JSONResponse(bookmarks.bookmark_json(mark))
