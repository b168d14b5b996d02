"""A router whose every path answers with and without its trailing slash, with no redirect.

The public document shows both styles; clients must not pay a redirect round trip for either.
The twin route is left out of the OpenAPI document so each endpoint is described once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter


class SlashOptionalRouter(APIRouter):
    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, endpoint, **kwargs)
        twin = path[:-1] if path.endswith("/") else path + "/"
        if twin and twin != "/":
            super().add_api_route(twin, endpoint, **{**kwargs, "include_in_schema": False})
