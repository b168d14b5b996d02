"""The availability filters a client puts in a query string, read the same way by every endpoint
that can narrow items to what is on offer (personalized lists, recommendations)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from pydantic import Field

from tanktop.catalog.service import MAX_PRICE, Availability
from tanktop.ids import NAME_PATTERN


async def availability_query(
    source_id: Annotated[
        list[Annotated[str, Field(pattern=NAME_PATTERN)]],
        Query(description="Only items offered on these sources (repeatable)."),
    ] = [],  # noqa: B006
    hd: Annotated[bool, Query(description="Only items offered in HD.")] = False,
    max_price: Annotated[
        int | None,
        Query(ge=0, le=MAX_PRICE, description="Only offers at or under this price (pence/cents)."),
    ] = None,
) -> Availability:
    return Availability(tuple(source_id), hd, max_price)


AvailabilityQuery = Annotated[Availability, Depends(availability_query)]
