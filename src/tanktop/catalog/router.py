"""The operator's admin API for the shared catalog: items, offers, schedules."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from tanktop.answers import model_answer
from tanktop.auth import AdminDep
from tanktop.bodies import json_body, json_body_openapi
from tanktop.catalog import admin
from tanktop.catalog.schemas import (
    CONTENT_TYPES,
    ITEM_TYPES,
    MODELS,
    CatalogItem,
    Offer,
    OfferList,
    Schedule,
    Slot,
    list_schema,
    parse_item,
    parse_list,
)
from tanktop.dependencies import DatabaseDep
from tanktop.errors import BadRequest, problem_responses
from tanktop.parameters import ItemId
from tanktop.timestamps import to_utc

router = APIRouter(prefix="/admin/1", tags=["Catalog (admin)"], dependencies=[AdminDep])

CatalogType = Annotated[
    str,
    Path(
        description=f"One of {', '.join(ITEM_TYPES)} (offers: not channel).",
        examples=["movie"],
        json_schema_extra={"enum": list(ITEM_TYPES)},
    ),
]
ChannelId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:@\-]{1,64}$", examples=["bbc1"])]
_AUTH = problem_responses(401, 403)
_ITEM_EXAMPLE = {"title": "Alien", "duration": 117, "genres": ["Horror", "Sci-Fi"], "year": 1979}
_STORED = {"item_type": "movie", "item_id": 1, **_ITEM_EXAMPLE}
_OFFER_EXAMPLE = {
    "source_id": 7,
    "price": 349,
    "hd": True,
    "available_from": None,
    "available_until": None,
}
_SLOTS_EXAMPLE = {
    "slots": [
        {
            "start": "2026-11-27T20:00:00+00:00",
            "end": "2026-11-27T21:00:00+00:00",
            "item_type": "episode",
            "item_id": "s1e1",
        }
    ]
}


def _check_type(item_type: str, allowed: tuple[str, ...] = ITEM_TYPES) -> None:
    if item_type not in allowed:
        raise BadRequest(f"Item type must be one of {', '.join(allowed)}; got {item_type!r}.")


@router.put(
    "/catalog/{itemtype}/{itemid}/",
    name="catalog.put",
    summary="Create or replace a catalog item",
    status_code=201,
    response_model=CatalogItem,
    responses={
        200: model_answer("Replaced; the item as stored.", _STORED, CatalogItem),
        201: model_answer("Created; the item as stored.", _STORED, CatalogItem),
        **problem_responses(400, 413, 415),
        **_AUTH,
    },
    openapi_extra=json_body_openapi(
        {"anyOf": [model.model_json_schema() for model in MODELS.values()]},
        _ITEM_EXAMPLE,
        "The item's fields; which ones depends on the item type in the path.",
    ),
)
async def put_item(
    request: Request, response: Response, itemtype: CatalogType, itemid: ItemId, db: DatabaseDep
) -> CatalogItem:
    item = parse_item(itemtype, await json_body(request))
    stored, created = await admin.put_item(db, entry=admin.Entry(itemtype, itemid, item=item))
    response.status_code = 201 if created else 200
    return CatalogItem(stored)


@router.get(
    "/catalog/{itemtype}/{itemid}/",
    name="catalog.get",
    summary="Read a catalog item with its offers",
    response_model=CatalogItem,
    responses={
        200: model_answer(
            "The item and its offers.", {**_STORED, "offers": [_OFFER_EXAMPLE]}, CatalogItem
        ),
        **problem_responses(400, 404),
        **_AUTH,
    },
)
async def get_item(itemtype: CatalogType, itemid: ItemId, db: DatabaseDep) -> CatalogItem:
    _check_type(itemtype)
    return CatalogItem(await admin.get_item(db, item_type=itemtype, item_id=itemid))


@router.delete(
    "/catalog/{itemtype}/{itemid}/",
    name="catalog.delete",
    summary="Delete a catalog item and its offers",
    status_code=204,
    responses={**problem_responses(400, 404, 409), **_AUTH},
)
async def delete_item(itemtype: CatalogType, itemid: ItemId, db: DatabaseDep) -> Response:
    _check_type(itemtype)
    await admin.delete_item(db, item_type=itemtype, item_id=itemid)
    return Response(status_code=204)


@router.put(
    "/catalog/{itemtype}/{itemid}/offers/",
    name="catalog.put_offers",
    summary="Replace an item's offers (this is what fires notifications)",
    response_model=OfferList,
    responses={
        200: model_answer("The offers as stored.", {"offers": [_OFFER_EXAMPLE]}, OfferList),
        **problem_responses(400, 404, 413, 415),
        **_AUTH,
    },
    openapi_extra=json_body_openapi(
        list_schema(Offer),
        [{"source_id": 7, "price": 349, "hd": True}],
        "Every offer of the item; the ones missing are withdrawn.",
    ),
)
async def put_offers(
    request: Request, itemtype: CatalogType, itemid: ItemId, db: DatabaseDep
) -> OfferList:
    _check_type(itemtype, CONTENT_TYPES)
    offers = parse_list(Offer, await json_body(request), "offers")
    saved = await admin.put_offers(db, entry=admin.Entry(itemtype, itemid, offers=offers))
    return OfferList(offers=saved)


@router.put(
    "/schedule/{channelid}/",
    name="catalog.put_schedule",
    summary="Replace a channel's slots in the time range the given slots cover",
    response_model=Schedule,
    responses={
        200: model_answer("The slots written, in time order.", _SLOTS_EXAMPLE, Schedule),
        **problem_responses(400, 404, 413, 415),
        **_AUTH,
    },
    openapi_extra=json_body_openapi(
        list_schema(Slot),
        [
            {
                "start": "2026-11-27T20:00:00Z",
                "end": "2026-11-27T21:00:00Z",
                "item_type": "episode",
                "item_id": "s1e1",
            }
        ],
        "The channel's slots; they replace those from the first start to the last end.",
    ),
)
async def put_schedule(request: Request, channelid: ChannelId, db: DatabaseDep) -> Schedule:
    slots = parse_list(Slot, await json_body(request), "slots")
    return Schedule(slots=await admin.put_schedule(db, channel_id=channelid, slots=slots))


@router.get(
    "/schedule/{channelid}/",
    name="catalog.get_schedule",
    summary="A channel's slots overlapping a time range",
    response_model=Schedule,
    responses={
        200: model_answer("The slots, in time order.", _SLOTS_EXAMPLE, Schedule),
        **problem_responses(400),
        **_AUTH,
    },
)
async def get_schedule(
    channelid: ChannelId,
    db: DatabaseDep,
    start: Annotated[dt.datetime, Query(alias="from", description="Range start (ISO 8601).")],
    end: Annotated[dt.datetime, Query(alias="to", description="Range end (ISO 8601).")],
) -> Schedule:
    try:
        start, end = to_utc(start, "from"), to_utc(end, "to")
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return Schedule(slots=await admin.get_schedule(db, channel_id=channelid, start=start, end=end))
