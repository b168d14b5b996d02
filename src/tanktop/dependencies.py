"""What the routes depend on from the foundation, as FastAPI dependencies: the process's
`Database` (`DatabaseDep`). Kept out of `tanktop.db`, so a command that only uses the database
does not import FastAPI."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tanktop.db import Database


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


DatabaseDep = Annotated[Database, Depends(get_database)]
