"""Dependencies shared by the routes, declared once as `Annotated` aliases."""

from typing import Annotated

from fastapi import Depends, Request

from app.db import Database


async def get_database(request: Request) -> Database:
    # async, so that FastAPI resolves it on the event loop rather than in its thread pool.
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]
