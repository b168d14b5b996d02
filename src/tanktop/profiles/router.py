"""HTTP for section 1 of the public document: user profiles."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tanktop.answers import model_answer
from tanktop.auth import ServiceDep
from tanktop.bodies import json_object, json_object_openapi
from tanktop.dependencies import DatabaseDep
from tanktop.errors import problem_responses
from tanktop.fastpath import FastRoute
from tanktop.parameters import UserId
from tanktop.profiles import service as profiles
from tanktop.profiles.schemas import Profile

router = APIRouter(prefix="/api/1/{apikey}", tags=["User profiles"], route_class=FastRoute)

_EXAMPLE = {"name": "Sam", "language": "en", "favourites": {"genres": ["comedy"]}}
_PROFILE = model_answer(
    "The profile: your JSON, with the user id under `id`.", {"id": "7", **_EXAMPLE}, Profile
)
_COMMON = problem_responses(400, 401, 413, 415)


@router.put(
    "/user/{userid}/",
    name="profiles.put",
    summary="Create a user with your id, or replace their profile",
    status_code=201,
    response_model=Profile,
    responses={
        201: _PROFILE,
        200: {**_PROFILE, "description": "Replaced an active profile."},
        **_COMMON,
    },
    openapi_extra=json_object_openapi(_EXAMPLE, "The whole profile. `id`, if given, must match."),
)
async def put_user(
    request: Request, response: Response, userid: UserId, service: ServiceDep, db: DatabaseDep
) -> Profile:
    profile, created = await profiles.put_profile(
        db, service, user_id=userid, body=await json_object(request)
    )
    response.status_code = 201 if created else 200
    return profile


@router.post(
    "/user/",
    name="profiles.create",
    summary="Create a user; we choose the id",
    status_code=201,
    response_model=Profile,
    responses={
        201: {
            **_PROFILE,
            "headers": {
                "Location": {"description": "The new user's URL.", "schema": {"type": "string"}}
            },
        },
        **_COMMON,
    },
    openapi_extra=json_object_openapi(_EXAMPLE, "The initial profile (may be empty)."),
)
async def create_user(
    request: Request, response: Response, service: ServiceDep, db: DatabaseDep
) -> Profile:
    profile = await profiles.create_profile(db, service, body=await json_object(request))
    location = request.url_for(
        "profiles.get", apikey=request.path_params["apikey"], userid=profile.id
    )
    response.headers["Location"] = str(location)
    return profile


_PATCH_SUMMARY = "Update a profile (JSON Merge Patch, RFC 7396)"
_PATCH_RESPONSES = {200: _PROFILE, **_COMMON, **problem_responses(404)}
_PATCH_BODY = json_object_openapi(
    {"language": "fr", "favourites": {"genres": None}},
    "Keys to set; `null` removes a key; nested objects merge.",
)


@router.patch(
    "/user/{userid}/",
    name="profiles.patch",
    summary=_PATCH_SUMMARY,
    response_model=Profile,
    responses=_PATCH_RESPONSES,
    openapi_extra=_PATCH_BODY,
)
@router.post(
    "/user/{userid}/",
    name="profiles.post",
    summary=_PATCH_SUMMARY,
    response_model=Profile,
    responses=_PATCH_RESPONSES,
    openapi_extra=_PATCH_BODY,
)
async def patch_user(
    request: Request, userid: UserId, service: ServiceDep, db: DatabaseDep
) -> Profile:
    return await profiles.patch_profile(
        db, service, user_id=userid, patch=await json_object(request)
    )


@router.get(
    "/user/{userid}/",
    name="profiles.get",
    summary="Read a profile",
    response_model=Profile,
    responses={200: _PROFILE, **problem_responses(400, 401, 404)},
)
async def get_user(userid: UserId, service: ServiceDep, db: DatabaseDep) -> Profile:
    return await profiles.get_profile(db, service, user_id=userid)


@router.delete(
    "/user/{userid}/",
    name="profiles.delete",
    summary="Deactivate a user (their profile then reads as 404; PUT re-creates it)",
    status_code=204,
    responses=problem_responses(400, 401, 404),
)
async def delete_user(userid: UserId, service: ServiceDep, db: DatabaseDep) -> Response:
    await profiles.deactivate_profile(db, service, user_id=userid)
    return Response(status_code=204)
