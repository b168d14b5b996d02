"""`tanktop` as an operator uses it: CLI key management and a real server over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from tanktop.client import Client, NotFoundError, UnauthorizedError
from tests.servers import cli_key, create_key, run_cli, running_server, tanktop_env

pytestmark = pytest.mark.e2e


def test_keys_create_list_revoke(database_url: str) -> None:
    env = tanktop_env(database_url)
    key = cli_key(env, "cli-service")
    assert key.startswith("tt_")
    second = cli_key(env, "cli-service")
    assert second != key

    listing = run_cli(env, "keys", "list").stdout
    assert listing.count("cli-service") >= 2
    assert key not in listing, "whole keys are never shown again"
    assert key[:7] in listing

    revoked = run_cli(env, "keys", "revoke", key)
    assert revoked.returncode == 0
    assert key not in revoked.stdout
    assert run_cli(env, "keys", "revoke", key).returncode == 1, "already revoked"
    assert "revoked" in run_cli(env, "keys", "list").stdout


def test_server_over_real_http(database_url: str) -> None:
    env = tanktop_env(database_url)
    key = create_key(env, "e2e-service")
    with running_server(env) as server:
        base = f"{server.base_url}/api/1/{key}"
        with httpx.Client(timeout=10) as http, Client(server.base_url, key) as tanktop:
            created = http.put(f"{base}/user/42/", json={"name": "Sam"})
            assert created.status_code == 201
            assert tanktop.get_profile("42").model_dump() == {"name": "Sam", "id": "42"}
            new = http.post(f"{base}/user/", json={"plan": "gold"})
            assert new.status_code == 201
            assert http.get(new.headers["location"]).json()["plan"] == "gold"
            assert tanktop.patch_profile("42", {"name": None}).model_dump() == {"id": "42"}
            tanktop.delete_profile("42")
            with pytest.raises(NotFoundError):
                tanktop.get_profile("42")
            assert http.get(f"{server.base_url}/docs").status_code == 200

            assert run_cli(env, "keys", "revoke", key).returncode == 0
            with pytest.raises(UnauthorizedError):
                tanktop.get_profile("42")
            gone = http.get(f"{base}/user/42/")
            assert gone.status_code == 401
            assert gone.headers["content-type"] == "application/problem+json"
        log = server.log()
    assert "/user/42" in log, "requests are logged"
    assert key not in log, "API keys never appear in logs"
    assert key[:7] + "…" in log


def test_serve_without_worker_still_serves(database_url: str) -> None:
    env = tanktop_env(database_url)
    key = create_key(env, "no-worker")
    with running_server(env, "--no-worker") as server:
        response = httpx.put(f"{server.base_url}/api/1/{key}/user/1/", json={}, timeout=10)
        assert response.status_code == 201
        log = server.log()
    assert "worker started" not in log


def test_json_logs_carry_the_request_id_and_no_key(database_url: str) -> None:
    env = tanktop_env(database_url, TANKTOP_LOG_FORMAT="json")
    key = create_key(env, "json-logs")
    with running_server(env) as server:
        response = httpx.put(
            f"{server.base_url}/api/1/{key}/user/9/",
            json={},
            headers={"x-request-id": "req-42"},
            timeout=10,
        )
        assert response.headers["x-request-id"] == "req-42"
        generated = httpx.get(f"{server.base_url}/healthz", timeout=10).headers["x-request-id"]
        assert len(generated) == 32
        log = server.log()
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert entries, log
    access = [e for e in entries if "/user/9/" in e["message"]]
    assert access[0]["request_id"] == "req-42"
    assert {"time", "level", "logger", "message"} <= set(access[0])
    assert key not in log


@pytest.mark.parametrize("setting", ["1", "0"])
def test_access_log_can_be_turned_off(database_url: str, setting: str) -> None:
    """`TANKTOP_ACCESS_LOG=0` (behind a proxy that logs requests) writes no line per request;
    the server's other lines stay."""
    env = tanktop_env(database_url, TANKTOP_ACCESS_LOG=setting)
    with running_server(env, "--no-worker") as server:
        assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200
        log = server.log()
    assert "Uvicorn running" in log or "Application startup complete" in log, log
    assert ('"GET /healthz HTTP/1.1" 200' in log) is (setting == "1"), log
