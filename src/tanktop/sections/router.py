"""HTTP for Section Lists (named by the seed; API.md "Section Lists"): definitions, the user's
section list, and the page of rows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from tanktop.auth import ServiceDep
from tanktop.bodies import json_body, json_body_openapi
from tanktop.db import DatabaseDep
from tanktop.errors import problem_responses
from tanktop.ids import ID_CHARS, NAME_PATTERN, UserId
from tanktop.sections import service as sections
from tanktop.sections.schemas import Section, SectionBody, SectionIds, SectionList

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


def _example(description: str, example: Any, model: type[BaseModel]) -> dict[str, Any]:
    """A `responses` entry: what the answer means, its model and an example of it."""
    return {
        "model": model,
        "description": description,
        "content": {"application/json": {"example": example}},
    }


def _json(model: BaseModel, status_code: int = 200, *, exclude_none: bool = False) -> Response:
    """The answer serialised once, straight from the model (no second validation pass)."""
    return Response(
        model.model_dump_json(exclude_none=exclude_none),
        status_code=status_code,
        media_type="application/json",
    )


@router.get(
    "/section/",
    name="sections.list",
    summary="The service's sections in position order (the default page if it defined none)",
    response_model=SectionList,
    responses={
        200: _example(
            "Definitions, in position order.", {"sections": [_SECTION_EXAMPLE]}, SectionList
        ),
        **problem_responses(400, 401),
    },
)
async def list_sections(service: ServiceDep, db: DatabaseDep) -> Response:
    return _json(SectionList(sections=await sections.definitions(db, service)))


@router.get(
    "/section/{sectionid}/",
    name="sections.get",
    summary="One section definition",
    response_model=Section,
    responses={
        200: _example("The definition.", _SECTION_EXAMPLE, Section),
        **problem_responses(400, 401, 404),
    },
)
async def get_section(sectionid: SectionId, service: ServiceDep, db: DatabaseDep) -> Response:
    return _json(await sections.get_section(db, service, section_id=sectionid))


@router.put(
    "/section/{sectionid}/",
    name="sections.put",
    summary="Define a section, or replace its definition",
    status_code=201,
    response_model=Section,
    responses={
        200: _example("Replaced; the definition as stored.", _SECTION_EXAMPLE, Section),
        201: _example("Created; the definition as stored.", _SECTION_EXAMPLE, Section),
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
    return _json(section, 201 if created else 200)


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
        200: _example(
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
    return _json(SectionIds(items=ids))
