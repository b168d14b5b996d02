"""HTTP for section 2 of the public document (events and lists), batches and personalized lists."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from tanktop.answers import model_answer, model_json
from tanktop.auth import ServiceDep
from tanktop.bodies import json_body, json_body_openapi
from tanktop.catalog.filters import AvailabilityQuery
from tanktop.dependencies import DatabaseDep
from tanktop.errors import problem_responses
from tanktop.events import service as events
from tanktop.events.schemas import EventList, PersonalizedList
from tanktop.events.writer import EventWriter
from tanktop.fastpath import FastRoute
from tanktop.ids import NAME_PATTERN, USER_ID_PATTERN
from tanktop.parameters import EventName, ItemId, ItemType, UserId
from tanktop.tenants.service import Service

router = APIRouter(prefix="/api/1/{apikey}", tags=["Events and lists"], route_class=FastRoute)


def writer_of(request: Request) -> EventWriter:
    """The process's group-commit writer (not a dependency: this is the hot path)."""
    writer: EventWriter = request.app.state.event_writer
    return writer


Value = Annotated[
    str,
    Path(
        description=(
            "`rated`: a number (may be negative or fractional); `progress`: minutes watched "
            "(>= 0); `start`/`end`/`stop`: ISO 8601 or Unix seconds (default now); "
            "`watchlist`/`seen`/`hide`: ignored; other events: a number or a string."
        ),
        examples=["4"],
    ),
]
_NO_CONTENT: dict[int | str, dict[str, Any]] = {
    204: {"description": "Recorded (committed before this answer)."}
}
_WRITE_ERRORS = problem_responses(400, 401)


@router.post(
    "/event/{userid}/{event}/{itemtype}/{itemid}/",
    name="events.post",
    summary="Record an event or add an item to a list",
    status_code=204,
    responses={**_NO_CONTENT, **_WRITE_ERRORS},
)
async def post_event(
    userid: UserId,
    event: EventName,
    itemtype: ItemType,
    itemid: ItemId,
    service: ServiceDep,
    request: Request,
) -> Response:
    return await _record_posted(request, service, userid, event, itemtype, itemid, None)


@router.post(
    "/event/{userid}/{event}/{itemtype}/{itemid}/{value}/",
    name="events.post_value",
    summary="Record an event with a value (a rating, minutes of progress, a timestamp)",
    status_code=204,
    responses={**_NO_CONTENT, **_WRITE_ERRORS},
)
async def post_event_value(
    userid: UserId,
    event: EventName,
    itemtype: ItemType,
    itemid: ItemId,
    value: Value,
    service: ServiceDep,
    request: Request,
) -> Response:
    return await _record_posted(request, service, userid, event, itemtype, itemid, value)


async def _record_posted(
    request: Request,
    service: Service,
    userid: str,
    event: str,
    itemtype: str,
    itemid: str,
    value: str | None,
) -> Response:
    op = events.new_op(
        service,
        user_id=userid,
        event=event,
        item_type=itemtype,
        item_id=itemid,
        value=value,
        origin="posted",
    )
    await events.record(writer_of(request), ops=[op])
    return Response(status_code=204)


@router.delete(
    "/event/{userid}/{event}/{itemtype}/{itemid}/",
    name="events.delete",
    summary="Remove an item from a list (204 also when it was not there)",
    status_code=204,
    responses={**_NO_CONTENT, **_WRITE_ERRORS},
)
async def delete_event(
    userid: UserId,
    event: EventName,
    itemtype: ItemType,
    itemid: ItemId,
    service: ServiceDep,
    request: Request,
) -> Response:
    op = events.removal_op(service, user_id=userid, event=event, item_type=itemtype, item_id=itemid)
    await events.record(writer_of(request), ops=[op])
    return Response(status_code=204)


_LIST_EXAMPLE = {"watchlist": {"1": None, "24": None}}


@router.get(
    "/event/{userid}/{event}/{itemtype}/",
    name="events.get",
    summary="Items in a list, or those of the given ids that are in it",
    response_model=EventList,
    responses={
        200: model_answer(
            "`{<event>: {<itemid>: value}}`, most recent first. When a page is cut short, "
            "`next_cursor` gives the next one.",
            _LIST_EXAMPLE,
            EventList,
        ),
        **problem_responses(400, 401),
    },
)
async def get_events(
    userid: UserId,
    event: EventName,
    itemtype: ItemType,
    service: ServiceDep,
    db: DatabaseDep,
    id: Annotated[
        list[str], Query(description="Only these item ids (repeat up to 1,000 times).")
    ] = [],  # noqa: B006 - FastAPI copies defaults
    limit: Annotated[
        int, Query(ge=1, le=events.MAX_PAGE, description="Page size without `id`.")
    ] = events.MAX_PAGE,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> Response:
    page = await events.get_list(
        db,
        service,
        user_id=userid,
        event=event,
        item_type=itemtype,
        ids=id,
        limit=limit,
        cursor=cursor,
    )
    # The hottest read: written straight away (`model_json`), not handed to FastAPI to
    # check again the model just built (`bench.serialisation`).
    return model_json(EventList.of(event, page.items, page.next_cursor))


@router.post(
    "/events/",
    name="events.batch",
    summary="Record up to 1,000 events at once (all or nothing)",
    status_code=204,
    responses={**_NO_CONTENT, **problem_responses(400, 401, 413, 415)},
    openapi_extra=json_body_openapi(
        {
            "type": "array",
            "maxItems": events.MAX_BATCH,
            "items": {
                "type": "object",
                "required": ["user_id", "event", "item_type", "item_id"],
                "properties": {
                    "user_id": {"type": ["string", "integer"], "pattern": USER_ID_PATTERN},
                    "event": {"type": "string", "pattern": NAME_PATTERN},
                    "item_type": {"type": "string", "pattern": NAME_PATTERN},
                    "item_id": {"type": ["string", "integer"], "pattern": NAME_PATTERN},
                    "value": {"type": ["number", "string", "null"]},
                    "at": {
                        "type": ["string", "number"],
                        "description": "When it happened (default now).",
                    },
                },
                "additionalProperties": False,
            },
        },
        [
            {
                "user_id": "7",
                "event": "rated",
                "item_type": "movie",
                "item_id": 1,
                "value": 4,
                "at": "2026-11-01T20:00:00Z",
            },
            {"user_id": "7", "event": "watchlist", "item_type": "movie", "item_id": 24},
        ],
        "The events, recorded together or not at all.",
    ),
)
async def post_events(request: Request, service: ServiceDep) -> Response:
    ops = events.batch_ops(service, body=await json_body(request))
    await events.record(writer_of(request), ops=ops)
    return Response(status_code=204)


@router.get(
    "/list/{userid}/{itemtype}/",
    name="events.personalized_list",
    summary="Personalized list: filter ids (or the catalog) by the user's lists",
    description="The availability filters (`source_id`, `hd`, `max_price`) apply without `id`.",
    response_model=PersonalizedList,
    responses={
        200: model_answer(
            "The kept ids: the given ones in their order, or catalog items in id order. "
            "A page cut short carries `next_cursor`.",
            {"items": [1, 24]},
            PersonalizedList,
        ),
        **problem_responses(400, 401),
    },
)
async def personalized_list(
    userid: UserId,
    itemtype: ItemType,
    service: ServiceDep,
    db: DatabaseDep,
    availability: AvailabilityQuery,
    id: Annotated[list[str], Query(description="Candidate ids, in display order.")] = [],  # noqa: B006
    include: Annotated[
        list[str], Query(description="Keep only items in this list (repeatable).")
    ] = [],  # noqa: B006
    exclude: Annotated[list[str], Query(description="Drop items in this list (repeatable).")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=events.MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> PersonalizedList:
    items, next_cursor = await events.personalized_list(
        db,
        service,
        user_id=userid,
        item_type=itemtype,
        ids=id,
        include=include,
        exclude=exclude,
        availability=availability,
        limit=limit,
        cursor=cursor,
    )
    if next_cursor:
        return PersonalizedList(items=items, next_cursor=next_cursor)
    return PersonalizedList(items=items)
