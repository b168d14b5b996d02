"""The operator's admin API for the shared catalog: items, offers, schedules."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from tanktop.answers import JSON_ID, SLOT_FIELDS, TIMESTAMP, answer, array_of, nullable, record
from tanktop.auth import AdminDep
from tanktop.bodies import json_body, json_body_openapi
from tanktop.catalog import service as catalog
from tanktop.catalog.models import (
    CONTENT_TYPES,
    ITEM_TYPES,
    MODELS,
    Offer,
    Slot,
    list_schema,
    parse_item,
    parse_list,
)
from tanktop.db import DatabaseDep
from tanktop.errors import BadRequest, problem_responses
from tanktop.ids import ItemId
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
_ITEM = record(
    {"item_type": {"type": "string", "enum": list(ITEM_TYPES)}, "item_id": JSON_ID}, open_=True
)
_STORED = {"item_type": "movie", "item_id": 1, **_ITEM_EXAMPLE}
_OFFER = record(
    {
        "source_id": JSON_ID,
        "price": {"type": "integer", "minimum": 0},
        "hd": {"type": "boolean"},
        "available_from": nullable(TIMESTAMP),
        "available_until": nullable(TIMESTAMP),
    }
)
_OFFER_EXAMPLE = {
    "source_id": 7,
    "price": 349,
    "hd": True,
    "available_from": None,
    "available_until": None,
}
_SLOTS = record({"slots": array_of(record(SLOT_FIELDS))})
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
    responses={
        200: answer("Replaced; the item as stored.", _ITEM, _STORED),
        201: answer("Created; the item as stored.", _ITEM, _STORED),
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
    request: Request, itemtype: CatalogType, itemid: ItemId, db: DatabaseDep
) -> JSONResponse:
    item = parse_item(itemtype, await json_body(request))
    body, created = await catalog.put_item(db, entry=catalog.Entry(itemtype, itemid, item=item))
    return JSONResponse(body, status_code=201 if created else 200)


@router.get(
    "/catalog/{itemtype}/{itemid}/",
    name="catalog.get",
    summary="Read a catalog item with its offers",
    responses={
        200: answer(
            "The item and its offers.",
            {**_ITEM, "properties": {**_ITEM["properties"], "offers": array_of(_OFFER)}},
            {**_STORED, "offers": [_OFFER_EXAMPLE]},
        ),
        **problem_responses(400, 404),
        **_AUTH,
    },
)
async def get_item(itemtype: CatalogType, itemid: ItemId, db: DatabaseDep) -> JSONResponse:
    _check_type(itemtype)
    return JSONResponse(await catalog.get_item(db, item_type=itemtype, item_id=itemid))


@router.delete(
    "/catalog/{itemtype}/{itemid}/",
    name="catalog.delete",
    summary="Delete a catalog item and its offers",
    status_code=204,
    responses={**problem_responses(400, 404, 409), **_AUTH},
)
async def delete_item(itemtype: CatalogType, itemid: ItemId, db: DatabaseDep) -> Response:
    _check_type(itemtype)
    await catalog.delete_item(db, item_type=itemtype, item_id=itemid)
    return Response(status_code=204)


@router.put(
    "/catalog/{itemtype}/{itemid}/offers/",
    name="catalog.put_offers",
    summary="Replace an item's offers (this is what fires notifications)",
    responses={
        200: answer(
            "The offers as stored.",
            record({"offers": array_of(_OFFER)}),
            {"offers": [_OFFER_EXAMPLE]},
        ),
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
) -> JSONResponse:
    _check_type(itemtype, CONTENT_TYPES)
    offers = parse_list(Offer, await json_body(request), "offers")
    saved = await catalog.put_offers(db, entry=catalog.Entry(itemtype, itemid, offers=offers))
    return JSONResponse({"offers": saved})


@router.put(
    "/schedule/{channelid}/",
    name="catalog.put_schedule",
    summary="Replace a channel's slots in the time range the given slots cover",
    responses={
        200: answer("The slots written, in time order.", _SLOTS, _SLOTS_EXAMPLE),
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
async def put_schedule(request: Request, channelid: ChannelId, db: DatabaseDep) -> JSONResponse:
    slots = parse_list(Slot, await json_body(request), "slots")
    return JSONResponse(
        {"slots": await catalog.put_schedule(db, channel_id=channelid, slots=slots)}
    )


@router.get(
    "/schedule/{channelid}/",
    name="catalog.get_schedule",
    summary="A channel's slots overlapping a time range",
    responses={
        200: answer("The slots, in time order.", _SLOTS, _SLOTS_EXAMPLE),
        **problem_responses(400),
        **_AUTH,
    },
)
async def get_schedule(
    channelid: ChannelId,
    db: DatabaseDep,
    start: Annotated[dt.datetime, Query(alias="from", description="Range start (ISO 8601).")],
    end: Annotated[dt.datetime, Query(alias="to", description="Range end (ISO 8601).")],
) -> JSONResponse:
    try:
        start, end = to_utc(start, "from"), to_utc(end, "to")
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    slots: list[dict[str, Any]] = await catalog.get_schedule(
        db, channel_id=channelid, start=start, end=end
    )
    return JSONResponse({"slots": slots})
