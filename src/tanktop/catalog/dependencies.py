"""The catalog as routes depend on it (FastAPI dependencies): the process's `CatalogFacts`.
Kept out of `catalog.facts`, which the services use from the command line too."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tanktop.catalog.facts import CatalogFacts


async def get_catalog_facts(request: Request) -> CatalogFacts:
    facts: CatalogFacts = request.app.state.catalog_facts
    return facts


CatalogFactsDep = Annotated[CatalogFacts, Depends(get_catalog_facts)]
