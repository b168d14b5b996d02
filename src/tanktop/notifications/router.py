"""HTTP for section 3 of the public document: notification requests, plus their delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from tanktop.answers import model_answer
from tanktop.auth import ServiceDep
from tanktop.catalog.service import MAX_PRICE
from tanktop.dependencies import DatabaseDep
from tanktop.errors import problem_responses
from tanktop.fastpath import FastRoute
from tanktop.notifications import service as notifications
from tanktop.notifications.rules import REQUEST_TYPES, parse_spec
from tanktop.notifications.schemas import DeliveryLog, NotificationList, Resent
from tanktop.parameters import ItemId, UserId

router = APIRouter(prefix="/api/1/{apikey}", tags=["Notifications"], route_class=FastRoute)

NotificationType = Annotated[
    str,
    Path(
        description="movie, programme, or for sports alerts sport or team.",
        examples=["movie"],
        json_schema_extra={"enum": list(REQUEST_TYPES)},
    ),
]
_EXAMPLE = {
    "notifications": [
        {
            "url": "http://example.com/notification",
            "notified": False,
            "price": None,
            "item_type": "movie",
            "source_id": [7, 37, 28],
            "item_id": 1,
            "hd": False,
            "status": "waiting",
            "notified_at": None,
            "created_at": "2026-11-27T20:00:00+00:00",
        }
    ]
}
_LIST = {
    200: model_answer("The user's requests.", _EXAMPLE, NotificationList),
    **problem_responses(400, 401),
}
_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "url": {
                            "type": "string",
                            "format": "uri",
                            "description": "Webhook URL (default: the service's).",
                        },
                        "source_id": {
                            "oneOf": [
                                {"type": ["string", "integer"]},
                                {"type": "array", "items": {"type": ["string", "integer"]}},
                            ]
                        },
                        "price": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_PRICE,
                            "description": "Maximum price in pence/cents.",
                        },
                        "hd": {"type": "boolean"},
                    },
                    "additionalProperties": False,
                },
                "example": {"source_id": [7, 37, 28]},
            },
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "url": {"type": "string"},
                        "source_id": {"type": "string"},
                        "price": {"type": "integer"},
                        "hd": {"type": "string"},
                    },
                },
                "example": {"source_id": "7,37,28", "price": 349, "hd": "true"},
            },
        },
    }
}


@router.post(
    "/notification/{userid}/{itemtype}/{itemid}/",
    name="notifications.post",
    summary="Ask to be told (by webhook) when an item becomes available",
    status_code=204,
    responses={
        204: {"description": "Stored; replaces any earlier request for the item."},
        **problem_responses(400, 401, 413, 415),
    },
    openapi_extra=_BODY,
)
async def request_notification(
    request: Request,
    userid: UserId,
    itemtype: NotificationType,
    itemid: ItemId,
    service: ServiceDep,
    db: DatabaseDep,
) -> Response:
    spec = parse_spec(await request.body(), request.headers.get("content-type"))
    await notifications.create_request(
        db, service, user_id=userid, item_type=itemtype, item_id=itemid, spec=spec
    )
    return Response(status_code=204)


@router.get(
    "/notification/{userid}/{itemtype}/{itemid}/",
    name="notifications.get_item",
    summary="The request for one item",
    response_model=NotificationList,
    responses=_LIST,
)
async def get_for_item(
    userid: UserId, itemtype: NotificationType, itemid: ItemId, service: ServiceDep, db: DatabaseDep
) -> NotificationList:
    rows = await notifications.list_requests(
        db, service, user_id=userid, item_type=itemtype, item_id=itemid
    )
    return NotificationList(notifications=rows)


@router.get(
    "/notification/{userid}/{itemtype}/",
    name="notifications.get_type",
    summary="The user's requests of one type",
    response_model=NotificationList,
    responses=_LIST,
)
async def get_for_type(
    userid: UserId, itemtype: NotificationType, service: ServiceDep, db: DatabaseDep
) -> NotificationList:
    rows = await notifications.list_requests(db, service, user_id=userid, item_type=itemtype)
    return NotificationList(notifications=rows)


@router.get(
    "/notification/{userid}/",
    name="notifications.get_user",
    summary="All the user's requests",
    response_model=NotificationList,
    responses=_LIST,
)
async def get_for_user(userid: UserId, service: ServiceDep, db: DatabaseDep) -> NotificationList:
    rows = await notifications.list_requests(db, service, user_id=userid)
    return NotificationList(notifications=rows)


_GONE = {
    204: {"description": "Cancelled (also when there was nothing to cancel)."},
    **problem_responses(400, 401),
}


@router.delete(
    "/notification/{userid}/{itemtype}/{itemid}/",
    name="notifications.delete_item",
    status_code=204,
    summary="Cancel the request for one item",
    responses=_GONE,
)
async def delete_for_item(
    userid: UserId, itemtype: NotificationType, itemid: ItemId, service: ServiceDep, db: DatabaseDep
) -> Response:
    await notifications.cancel_requests(
        db, service, user_id=userid, item_type=itemtype, item_id=itemid
    )
    return Response(status_code=204)


@router.delete(
    "/notification/{userid}/{itemtype}/",
    name="notifications.delete_type",
    status_code=204,
    summary="Cancel the user's requests of one type",
    responses=_GONE,
)
async def delete_for_type(
    userid: UserId, itemtype: NotificationType, service: ServiceDep, db: DatabaseDep
) -> Response:
    await notifications.cancel_requests(db, service, user_id=userid, item_type=itemtype)
    return Response(status_code=204)


@router.delete(
    "/notification/{userid}/",
    name="notifications.delete_user",
    status_code=204,
    summary="Cancel all the user's requests",
    responses=_GONE,
)
async def delete_for_user(userid: UserId, service: ServiceDep, db: DatabaseDep) -> Response:
    await notifications.cancel_requests(db, service, user_id=userid)
    return Response(status_code=204)


@router.get(
    "/notification/{userid}/{itemtype}/{itemid}/deliveries/",
    name="notifications.deliveries",
    summary="Every webhook sent for a request, with every attempt (status, time, answer)",
    response_model=DeliveryLog,
    responses={
        200: model_answer(
            "Deliveries, oldest first.",
            {
                "deliveries": [
                    {
                        "webhook_id": "msg_4f0c6b8e2d1a4c3b9e7f5a6d8c2b1e0f",
                        "content_type": "movie",
                        "content_id": 1,
                        "url": "https://example.com/notification",
                        "status": "succeeded",
                        "attempts": [
                            {
                                "at": "2026-11-27T20:00:01+00:00",
                                "status_code": 200,
                                "duration_ms": 41.5,
                                "error": None,
                                "response": "ok",
                            }
                        ],
                        "next_attempt_at": None,
                        "delivered_at": "2026-11-27T20:00:01+00:00",
                    }
                ]
            },
            DeliveryLog,
        ),
        **problem_responses(400, 401, 404),
    },
)
async def deliveries(
    userid: UserId, itemtype: NotificationType, itemid: ItemId, service: ServiceDep, db: DatabaseDep
) -> DeliveryLog:
    log = await notifications.delivery_log(
        db, service, user_id=userid, item_type=itemtype, item_id=itemid
    )
    return DeliveryLog(deliveries=log)


@router.post(
    "/notification/{userid}/{itemtype}/{itemid}/resend/",
    name="notifications.resend",
    summary="Send a failed webhook again (a new round of attempts)",
    status_code=202,
    response_model=Resent,
    responses={
        202: model_answer("How many failed deliveries were queued again.", {"queued": 1}, Resent),
        **problem_responses(400, 401, 404),
    },
)
async def resend(
    userid: UserId, itemtype: NotificationType, itemid: ItemId, service: ServiceDep, db: DatabaseDep
) -> Resent:
    count = await notifications.resend_failed(
        db, service, user_id=userid, item_type=itemtype, item_id=itemid
    )
    return Resent(queued=count)
