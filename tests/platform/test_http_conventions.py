"""Conventions every endpoint shares: problem+json for framework errors, OpenAPI, docs."""

from __future__ import annotations

import httpx

from tests.conftest import Api, assert_problem


async def test_unknown_route_is_problem_404(client: httpx.AsyncClient, api: Api) -> None:
    assert_problem(await client.get("/nowhere"), 404, "/docs")
    assert_problem(await api.get("/no-such-thing/"), 404)


async def test_wrong_method_is_problem_405(api: Api) -> None:
    assert_problem(await api.delete("/user/"), 405, "DELETE")
    assert_problem(await api.request("PUT", "/user/"), 405)


async def test_validation_errors_are_400_not_422(api: Api) -> None:
    body = assert_problem(await api.get(f"/user/{'x' * 40}/"), 400, "userid")
    assert body["errors"][0]["location"].endswith("userid")


async def test_openapi_describes_every_profile_endpoint(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    user = doc["paths"]["/api/1/{apikey}/user/{userid}/"]
    assert set(user) == {"get", "put", "patch", "post", "delete"}
    assert "/api/1/{apikey}/user/" in doc["paths"]
    assert "/api/1/{apikey}/user/{userid}" not in doc["paths"], "twin routes stay out of the doc"
    put = user["put"]
    assert put["requestBody"]["content"]["application/json"]["example"]
    assert put["responses"]["201"]["content"]["application/json"]["example"]["id"] == "7"
    assert put["responses"]["400"]["content"]["application/problem+json"]
    assert "Problem" in doc["components"]["schemas"]


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


async def test_openapi_documents_400_not_422(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


async def test_every_json_answer_has_a_schema(client: httpx.AsyncClient) -> None:
    """Clients generate code from these, and the fuzz test holds every answer to them."""
    doc = (await client.get("/openapi.json")).json()
    missing = [
        f"{method.upper()} {path} {status}"
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        for media in response.get("content", {}).values()
        if not media.get("schema")
    ]
    assert missing == []
