"""The notifications domain's answers (one model per shape)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from tanktop.ids import JsonId
from tanktop.timestamps import Timestamp

RequestStatus = Literal["waiting", "notified", "failed"]
DeliveryStatus = Literal["pending", "succeeded", "failed", "cancelled"]


class Notification(BaseModel):
    """A notification request, with the seed's fields first and what became of it after."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    item_type: str
    item_id: JsonId
    source_id: list[JsonId]
    """Sources that may satisfy it; empty: any source."""
    price: int | None
    """The highest price asked for (pence or cents); null: any price."""
    hd: bool
    url: str
    notified: bool
    status: RequestStatus
    notified_at: Timestamp | None
    created_at: Timestamp


class UserNotification(Notification):
    """A request among all of a service's users' (the console's list)."""

    user_id: str


class NotificationList(BaseModel):
    notifications: list[Notification]


class DeliveryAttempt(BaseModel):
    """One try at sending a webhook: what the receiver answered, or why it could not."""

    at: Timestamp
    status_code: int | None
    duration_ms: float
    error: str | None
    response: str | None


class Delivery(BaseModel):
    """One webhook (Standard Webhooks' `webhook-id`) and every attempt to send it."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    webhook_id: str
    content_type: str
    content_id: JsonId
    """The item whose availability satisfied the request (for sport and team requests, the
    programme or film that matched)."""
    url: str
    status: DeliveryStatus
    attempts: list[DeliveryAttempt]
    next_attempt_at: Timestamp | None
    delivered_at: Timestamp | None


class DeliveryLog(BaseModel):
    deliveries: list[Delivery]


class Resent(BaseModel):
    queued: int
    """How many failed deliveries were queued again."""
