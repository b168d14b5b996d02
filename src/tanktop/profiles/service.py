"""Profile rules: the `id` key, reserved `_` keys, JSON Merge Patch, deactivation."""

from __future__ import annotations

import secrets

from pydantic import JsonValue

from tanktop.bodies import JsonObject
from tanktop.db import Database, utcnow
from tanktop.errors import BadRequest, NotFound
from tanktop.oauth import service as oauth
from tanktop.profiles import queries
from tanktop.profiles.schemas import Profile
from tanktop.tenants.service import Service


def merge_patch(target: JsonValue, patch: JsonValue) -> JsonValue:
    """RFC 7396 Merge Patch: objects merge recursively, `null` removes, other values replace."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _check_keys(user_id: str, body: JsonObject) -> None:
    reserved = sorted(key for key in body if key.startswith("_"))
    if reserved:
        raise BadRequest(f"Top-level keys starting with '_' are reserved: {', '.join(reserved)}.")
    if "id" in body and body["id"] != user_id:
        raise BadRequest(
            f"The profile's 'id' must be the user id in the path ({user_id!r}), not {body['id']!r}."
        )


def _not_found(user_id: str) -> NotFound:
    return NotFound(f"User {user_id!r} has no active profile.")


async def put_profile(
    db: Database, service: Service, *, user_id: str, body: JsonObject
) -> tuple[Profile, bool]:
    """Create or replace a profile; returns it and whether it was created."""
    _check_keys(user_id, body)
    data = {**body, "id": user_id}
    created = await queries.put(db, service.id, user_id, data, utcnow())
    return Profile.of(user_id, data), created


async def create_profile(db: Database, service: Service, *, body: JsonObject) -> Profile:
    """Create a profile under an unguessable id of our choosing."""
    if "id" in body:
        raise BadRequest("POST /user/ chooses the id; use PUT /user/<userid>/ to choose your own.")
    _check_keys("", body)
    async with db.write() as conn:
        while True:
            user_id = secrets.token_urlsafe(16)
            data = {**body, "id": user_id}
            if await queries.insert_new(conn, service.id, user_id, data, utcnow()):
                return Profile.of(user_id, data)


async def patch_profile(
    db: Database, service: Service, *, user_id: str, patch: JsonObject
) -> Profile:
    """Apply a merge patch under a row lock, so concurrent patches never lose each other."""
    _check_keys(user_id, patch)
    async with db.write() as conn:
        current = await queries.select_active(conn, service.id, user_id, for_update=True)
        if current is None:
            raise _not_found(user_id)
        merged = merge_patch(current, patch)
        assert isinstance(merged, dict)
        data = {**merged, "id": user_id}
        await queries.update_data(conn, service.id, user_id, data, utcnow())
    return Profile.of(user_id, data)


async def get_profile(db: Database, service: Service, *, user_id: str) -> Profile:
    data = await queries.get_active(db, service.id, user_id)
    if data is None:
        raise _not_found(user_id)
    return Profile.of(user_id, data)


async def deactivate_profile(db: Database, service: Service, *, user_id: str) -> None:
    """Deactivate the user; the apps they connected lose access in the same transaction."""
    async with db.write() as conn:
        if not await queries.deactivate(conn, service.id, user_id, utcnow()):
            raise _not_found(user_id)
        await oauth.forget_user(conn, service, user_id=user_id)
