"""HTTP for section 5 of the public document: bookmarks ("continue watching")."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import TypeAdapter

from tanktop.answers import model_answer
from tanktop.auth import ServiceDep
from tanktop.bookmarks import service as bookmarks
from tanktop.bookmarks.memo import BookmarksMemoDep
from tanktop.bookmarks.schemas import Bookmark, BookmarkList
from tanktop.catalog.dependencies import CatalogFactsDep
from tanktop.dependencies import DatabaseDep
from tanktop.errors import problem_responses
from tanktop.fastpath import FastRoute
from tanktop.parameters import ItemId, ItemType, UserId

router = APIRouter(prefix="/api/1/{apikey}", tags=["Bookmarks"], route_class=FastRoute)

_LIST = TypeAdapter(BookmarkList)
"""Writes the list route's answer as FastAPI writes its `response_model` (pydantic-core)."""

_EXAMPLE = {
    "item_type": "programme",
    "item_id": 1001,
    "position": 0.0,
    "duration": 55,
    "updated_at": "2026-11-27T21:05:00+00:00",
    "episode_id": "1001-s1e3",
    "season": 1,
    "number": 3,
    "status": "next",
}


@router.get(
    "/bookmark/{userid}/",
    name="bookmarks.list",
    summary="The user's bookmarks, most recent activity first (currently watching)",
    response_model=BookmarkList,
    responses={
        200: model_answer("Bookmarks.", {"bookmarks": [_EXAMPLE]}, BookmarkList),
        **problem_responses(400, 401),
    },
)
async def list_bookmarks(
    userid: UserId,
    service: ServiceDep,
    db: DatabaseDep,
    facts: CatalogFactsDep,
    memo: BookmarksMemoDep,
) -> Response:
    found = await bookmarks.remembered(db, service, user_id=userid, facts=facts, memo=memo)
    if found.body is None:  # written once per derivation: a remembered answer is its bytes
        found.body = _LIST.dump_json(BookmarkList(bookmarks=found.bookmarks))
    return Response(found.body, media_type="application/json")


@router.get(
    "/bookmark/{userid}/{itemtype}/{itemid}/",
    name="bookmarks.get",
    summary="The bookmark in a movie or programme (an episode answers for its programme)",
    response_model=Bookmark,
    responses={
        200: model_answer("The bookmark.", _EXAMPLE, Bookmark),
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
    memo: BookmarksMemoDep,
) -> Bookmark:
    return await bookmarks.bookmark(
        db, service, user_id=userid, item_type=itemtype, item_id=itemid, facts=facts, memo=memo
    )
