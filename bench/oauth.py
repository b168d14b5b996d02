"""What a bearer token costs: `/api/1/me/…` beside the same calls with the service's key.

    python -m bench.oauth [--database-url URL] [--seconds 5] [--concurrency 32] [--users 200]

Starts `tanktop serve` (SQLite in a temporary folder unless a URL is given), walks the
authorization code flow once per user (authorize, the service's approve, the token exchange),
then measures a list read and an event write through `/api/1/me/` with each user's token and
through `/api/1/<key>/` for the same users, and prints the ratios (the per-app rate limit is off).
Each `/me` call checks its token in the database (no cache, so revocation is immediate).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpx
from tests.servers import create_key, run_cli, running_server, tanktop_env

from bench.loadgen import Call, ratio_line, run_load

CALLBACK = "https://app.example/cb"


async def tokens_for(base: str, key: str, client_id: str, secret: str, users: int) -> list[str]:
    """One access token per user, through the whole code flow."""
    found = []
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(users):
            start = await http.get(
                f"{base}/oauth/bench/authorize",
                params={"response_type": "code", "client_id": client_id},
            )
            request = start.headers["location"].split("request=")[1]
            approved = await http.post(
                f"{base}/api/1/{key}/oauth/requests/{request}/approve", json={"user_id": f"u{i}"}
            )
            code = approved.json()["redirect_to"].split("code=")[1]
            token = await http.post(
                f"{base}/oauth/bench/token",
                data={"grant_type": "authorization_code", "code": code},
                auth=(client_id, secret),
            )
            found.append(token.json()["access_token"])
            for item in range(10):
                await http.post(f"{base}/api/1/{key}/event/u{i}/watchlist/movie/{item}/")
    return found


async def measure(
    base: str, key: str, client_id: str, secret: str, args: argparse.Namespace
) -> None:
    users = args.users
    tokens = await tokens_for(base, key, client_id, secret, users)
    api = f"{base}/api/1/{key}"

    def bearer(i: int) -> dict[str, str]:
        return {"authorization": f"Bearer {tokens[i % users]}"}

    def read_with_key(i: int) -> Call:
        return Call("GET", f"{api}/event/u{i % users}/watchlist/movie/")

    def read_with_token(i: int) -> Call:
        return Call("GET", f"{base}/api/1/me/event/watchlist/movie/", headers=bearer(i))

    def write_with_key(i: int) -> Call:
        return Call("POST", f"{api}/event/u{i % users}/rated/movie/{i % 50}/4/")

    def write_with_token(i: int) -> Call:
        return Call("POST", f"{base}/api/1/me/event/rated/movie/{i % 50}/4/", headers=bearer(i))

    load = {"concurrency": args.concurrency, "seconds": args.seconds}
    read_key = await run_load("GET list, API key", read_with_key, **load)
    read_token = await run_load("GET list, bearer /me", read_with_token, **load)
    write_key = await run_load("POST event, API key", write_with_key, **load)
    write_token = await run_load("POST event, bearer /me", write_with_token, **load)
    for result in (read_key, read_token, write_key, write_token):
        print(result.row())
    print()
    print(ratio_line(read_token, read_key))
    print(ratio_line(write_token, write_key))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        env = tanktop_env(
            url,
            TANKTOP_KEY_CACHE_SECONDS="5",
            TANKTOP_OAUTH_RATE_LIMIT="0",
            TANKTOP_RATE_LIMIT_READS="0",
            TANKTOP_RATE_LIMIT_WRITES="0",
        )
        key = create_key(env, "bench")
        assert run_cli(env, "oauth", "enable", "bench", "--login-url", CALLBACK).returncode == 0
        created = run_cli(
            env,
            "oauth",
            "clients",
            "create",
            "bench",
            "--name",
            "Bench",
            "--redirect-uri",
            CALLBACK,
        )
        lines = dict(line.split(": ", 1) for line in created.stdout.splitlines())
        client_id, secret = lines["client_id"], lines["client_secret"].split()[0]
        with running_server(env, "--no-worker") as server:
            print(
                f"database: {url.split('@')[-1]}; {args.concurrency} concurrent, "
                f"{args.seconds:.0f} s each, {args.users} users with a token each"
            )
            asyncio.run(measure(server.base_url, key, client_id, secret, args))


if __name__ == "__main__":
    main()
