"""HTTP for Section Lists (named by the seed; API.md "Section Lists"): definitions, the user's
section list, and the page of rows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from tanktop.analytics import service as analytics
from tanktop.analytics.impressions import ImpressionRecorder
from tanktop.answers import model_answer, model_json
from tanktop.auth import ServiceDep
from tanktop.bodies import json_body, json_body_openapi
from tanktop.catalog.dependencies import CatalogFactsDep
from tanktop.catalog.facts import CatalogFacts
from tanktop.catalog.filters import AvailabilityQuery
from tanktop.catalog.service import Availability
from tanktop.dependencies import DatabaseDep
from tanktop.errors import problem_responses
from tanktop.ids import ID_CHARS, NAME_PATTERN
from tanktop.parameters import UserId
from tanktop.sections import service as sections
from tanktop.sections.context import PageSources
from tanktop.sections.schemas import (
    MAX_ITEMS,
    Page,
    Row,
    Section,
    SectionBody,
    SectionIds,
    SectionList,
)
from tanktop.tenants.service import Service

router = APIRouter(prefix="/api/1/{apikey}", tags=["Section lists"])
list_router = APIRouter(prefix="/api/1/{apikey}", tags=["Section lists"])
"""`GET /list/<userid>/section/`, which must be matched before the events domain's
`/list/<userid>/<itemtype>/`."""

SectionId = Annotated[
    str,
    Path(
        pattern=NAME_PATTERN,
        description=f"Your id for the section: 1-64 characters from {ID_CHARS}.",
        examples=["recommended"],
    ),
]

_SECTION_EXAMPLE: dict[str, Any] = {
    "section_id": "new-films",
    "title": "New on your services",
    "kind": "new",
    "item_type": "movie",
    "params": {"days": 14},
    "position": 3,
    "max_items": 20,
    "locked": False,
}


@router.get(
    "/section/",
    name="sections.list",
    summary="The service's sections in position order (the default page if it defined none)",
    response_model=SectionList,
    responses={
        200: model_answer(
            "Definitions, in position order.", {"sections": [_SECTION_EXAMPLE]}, SectionList
        ),
        **problem_responses(400, 401),
    },
)
async def list_sections(service: ServiceDep, db: DatabaseDep) -> Response:
    return model_json(SectionList(sections=await sections.definitions(db, service)))


@router.get(
    "/section/{sectionid}/",
    name="sections.get",
    summary="One section definition",
    response_model=Section,
    responses={
        200: model_answer("The definition.", _SECTION_EXAMPLE, Section),
        **problem_responses(400, 401, 404),
    },
)
async def get_section(sectionid: SectionId, service: ServiceDep, db: DatabaseDep) -> Response:
    return model_json(await sections.get_section(db, service, section_id=sectionid))


@router.put(
    "/section/{sectionid}/",
    name="sections.put",
    summary="Define a section, or replace its definition",
    status_code=201,
    response_model=Section,
    responses={
        200: model_answer("Replaced; the definition as stored.", _SECTION_EXAMPLE, Section),
        201: model_answer("Created; the definition as stored.", _SECTION_EXAMPLE, Section),
        **problem_responses(400, 401, 413, 415),
    },
    openapi_extra=json_body_openapi(
        SectionBody.model_json_schema(),
        {k: v for k, v in _SECTION_EXAMPLE.items() if k != "section_id"},
        "The definition. `params` depends on `kind` (see the README's section table).",
    ),
)
async def put_section(
    request: Request, sectionid: SectionId, service: ServiceDep, db: DatabaseDep
) -> Response:
    section, created = await sections.put_section(
        db, service, section_id=sectionid, body=await json_body(request)
    )
    return model_json(section, 201 if created else 200)


@router.delete(
    "/section/{sectionid}/",
    name="sections.delete",
    summary="Delete a section definition",
    status_code=204,
    responses={204: {"description": "Deleted."}, **problem_responses(400, 401, 404)},
)
async def delete_section(sectionid: SectionId, service: ServiceDep, db: DatabaseDep) -> Response:
    await sections.delete_section(db, service, section_id=sectionid)
    return Response(status_code=204)


@list_router.get(
    "/list/{userid}/section/",
    name="sections.order",
    summary="The user's sections in page order (hidden ones left out)",
    response_model=SectionIds,
    responses={
        200: model_answer(
            "Section ids, in the order the page shows them.", {"items": [1, "new"]}, SectionIds
        ),
        **problem_responses(400, 401),
    },
)
async def section_list(
    userid: UserId,
    service: ServiceDep,
    db: DatabaseDep,
    include: Annotated[
        list[str], Query(description="Keep only sections in this list of the user's (e.g. pin).")
    ] = [],  # noqa: B006 - FastAPI copies defaults
    exclude: Annotated[
        list[str], Query(description="Drop sections in this list of the user's.")
    ] = [],  # noqa: B006
) -> Response:
    ids = await sections.section_ids(db, service, user_id=userid, include=include, exclude=exclude)
    return model_json(SectionIds(items=ids))


_ROW_EXAMPLE: dict[str, Any] = {
    "section_id": "because",
    "title": "Because you watched Alien",
    "kind": "because_you_watched",
    "items": [
        {
            "item_type": "movie",
            "item_id": 24,
            "score": 0.42,
            "reasons": [{"type": "similar_to", "item_type": "movie", "item_id": 1}],
        }
    ],
    "based_on": {"item_type": "movie", "item_id": 1, "title": "Alien"},
    "next_cursor": "WyJiZWNhdXNlIiwyMCwyMF0",
}
_CONTINUE_EXAMPLE: dict[str, Any] = {
    "section_id": "continue_watching",
    "title": "Continue watching",
    "kind": "continue_watching",
    "items": [
        {
            "item_type": "programme",
            "item_id": 1001,
            "position": 12,
            "duration": 55,
            "episode_id": "1001-s1e3",
            "season": 1,
            "number": 3,
            "status": "in_progress",
            "updated_at": "2026-11-27T21:05:00+00:00",
        }
    ],
}


def _sources(request: Request, facts: CatalogFacts, availability: Availability) -> PageSources:
    """The process's copies (on the app's state) and the request's filters, for the page."""
    state = request.app.state
    return PageSources(facts, state.model_cache, state.popular_copy, availability)


def _record(request: Request, service: Service, user_id: str, rows: list[Row]) -> None:
    """What was served, for analytics' click-through per section (buffered, not awaited)."""
    recorder: ImpressionRecorder = request.app.state.impression_recorder
    for row in rows:
        analytics.record_impressions(
            recorder,
            service.id,
            user_id,
            f"{analytics.SECTION_PREFIX}{row.section_id}",
            [(item.item_type, str(item.item_id)) for item in row.items],
        )


@router.get(
    "/sections/{userid}/",
    name="sections.page",
    summary="The user's page: their sections, in their order, filled for them",
    description=(
        "Locked sections at their slot, then pinned ones, then the rest by position moved by "
        "the user's ratings and clicks; hidden sections, and empty rows, left out. Rows leave "
        "out what the user hid, saw or finished (continue watching aside) and what an "
        "earlier row shows. The availability filters apply to every row (on `live_now`, "
        "`source_id` names channels). Pass the same filters with a row's `next_cursor`."
    ),
    response_model=Page,
    response_model_exclude_none=True,
    responses={
        200: model_answer(
            "Rows in page order.", {"sections": [_CONTINUE_EXAMPLE, _ROW_EXAMPLE]}, Page
        ),
        **problem_responses(400, 401),
    },
)
async def get_page(
    request: Request,
    userid: UserId,
    service: ServiceDep,
    db: DatabaseDep,
    catalog: CatalogFactsDep,
    availability: AvailabilityQuery,
    rows: Annotated[int, Query(ge=1, le=100, description="At most this many rows.")] = 10,
    items: Annotated[
        int, Query(ge=1, le=MAX_ITEMS, description="At most this many items per row.")
    ] = 20,
) -> Response:
    page = await sections.page(
        db,
        service,
        user_id=userid,
        sources=_sources(request, catalog, availability),
        rows=rows,
        items=items,
    )
    _record(request, service, userid, page.sections)
    return model_json(page, exclude_none=True)


@router.get(
    "/sections/{userid}/{sectionid}/",
    name="sections.row",
    summary="One row of the user's page, paged",
    description=(
        "The same object as the row on the page, built by the same rules (it leaves out what "
        "the rows before it show). `cursor` is a row's `next_cursor`."
    ),
    response_model=Row,
    response_model_exclude_none=True,
    responses={
        200: model_answer("The row's items from the cursor on.", _ROW_EXAMPLE, Row),
        **problem_responses(400, 401, 404),
    },
)
async def get_row(
    request: Request,
    userid: UserId,
    sectionid: SectionId,
    service: ServiceDep,
    db: DatabaseDep,
    catalog: CatalogFactsDep,
    availability: AvailabilityQuery,
    limit: Annotated[int, Query(ge=1, le=MAX_ITEMS, description="Items in this page.")] = 20,
    cursor: Annotated[str | None, Query(description="A row's `next_cursor`.")] = None,
) -> Response:
    row = await sections.row(
        db,
        service,
        user_id=userid,
        section_id=sectionid,
        sources=_sources(request, catalog, availability),
        limit=limit,
        cursor=cursor,
    )
    _record(request, service, userid, [row])
    return model_json(row, exclude_none=True)
