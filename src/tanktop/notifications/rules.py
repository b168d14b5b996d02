"""What a notification request is, how it is read from JSON or a form, and when an offer
satisfies it (API.md "Notifications")."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import JsonValue

from tanktop.bodies import parse_json
from tanktop.catalog.schemas import Offer
from tanktop.catalog.service import MAX_PRICE
from tanktop.errors import BadRequest, UnsupportedMediaType
from tanktop.ids import is_name
from tanktop.storable import check_text

REQUEST_TYPES: Final = ("movie", "programme", "sport", "team")
STANDING_TYPES: Final = frozenset({"sport", "team"})
FIELDS: Final = frozenset({"url", "source_id", "price", "hd"})
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})


@dataclass(frozen=True)
class RequestSpec:
    url: str | None
    source_ids: tuple[str, ...]
    price: int | None
    hd: bool


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """A notification request as stored, with what became of it."""

    service_id: int
    user_id: str
    item_type: str
    item_id: str
    url: str
    source_ids: list[str]
    price: int | None
    hd: bool
    generation: int
    notified: bool
    notified_at: dt.datetime | None
    failed: bool
    created_at: dt.datetime


def check_url(url: JsonValue) -> str:
    if not isinstance(url, str) or len(url) > 2000:
        raise BadRequest("url must be an http or https URL of at most 2,000 characters.")
    if _CONTROL.search(check_text(url, "url")):
        raise BadRequest("url must be an http or https URL without control characters or spaces.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"url must be an http or https URL; got {url!r}.")
    return url


def _source_ids(raw: Any) -> tuple[str, ...]:
    values = raw if isinstance(raw, list) else [raw]
    result = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not is_name(value):
            raise BadRequest(
                f"source_id values must be ids (1-64 of A-Z a-z 0-9 _ . : @ -); got {value!r}."
            )
        result.append(value)
    if len(result) > 100:
        raise BadRequest("At most 100 source ids.")
    return tuple(dict.fromkeys(result))


def _price(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 20:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_PRICE:
        raise BadRequest(
            f"price must be a whole number of pence/cents from 0 to {MAX_PRICE:,}; "
            f"got {str(raw)[:40]!r}."
        )
    return raw


def _hd(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    if raw == 1 or raw == 0:
        return bool(raw)
    raise BadRequest(f"hd must be true or false; got {raw!r}.")


def parse_spec(body: bytes, content_type: str | None) -> RequestSpec:
    """A request from a JSON object or an urlencoded form (repeat or comma-separate source_id)."""
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    fields: dict[str, Any]
    if not body.strip():
        fields = {}
    elif media == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(
                "The form body is not valid application/x-www-form-urlencoded."
            ) from None
        fields = {}
        for key, value in pairs:
            if key == "source_id":
                fields.setdefault("source_id", []).extend(v for v in value.split(",") if v)
            elif key in fields:
                raise BadRequest(f"{key} is given twice.")
            else:
                fields[key] = value
        if "price" in fields and fields["price"] == "":
            fields["price"] = None
    elif media == "application/json" or media.endswith("+json"):
        parsed = parse_json(body)
        if not isinstance(parsed, dict):
            raise BadRequest("The body must be a JSON object.")
        fields = parsed
    else:
        raise UnsupportedMediaType(
            "Send the request as application/json or application/x-www-form-urlencoded."
        )
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise BadRequest(
            f"Unknown fields: {', '.join(unknown)} (known: hd, price, source_id, url)."
        )
    url = fields.get("url")
    return RequestSpec(
        url=None if url in (None, "") else check_url(url),
        source_ids=_source_ids(fields["source_id"])
        if fields.get("source_id") not in (None, [])
        else (),
        price=_price(fields.get("price")),
        hd=_hd(fields.get("hd", False)),
    )


def satisfies(
    offer: Offer, source_ids: list[str], price: int | None, hd: bool, now: dt.datetime
) -> bool:
    """Available now, on an allowed source, at or under the price, in HD if asked."""
    if offer.available_from is not None and offer.available_from > now:
        return False
    if offer.available_until is not None and offer.available_until <= now:
        return False
    if source_ids and offer.source_id not in source_ids:
        return False
    if price is not None and offer.price > price:
        return False
    return not hd or offer.hd


FormValue = str | int | bool | None


def webhook_body(fields: dict[str, FormValue]) -> str:
    """The form-encoded body the receiver gets (user_id, item_type, item_id, offer facts)."""
    return urlencode(
        {
            k: ("true" if v is True else "false" if v is False else v)
            for k, v in fields.items()
            if v is not None
        }
    )
