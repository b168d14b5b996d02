"""A bare FastAPI app with one route: the ceiling of what the framework and server can do on
this machine (`bench.hotpaths` serves it with uvicorn, as `tanktop serve` serves ours)."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"status": "ok"}
