"""The application factory: `uvicorn --factory app.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, FastAPI

from app import problems
from app.collections import COLLECTIONS
from app.config import Settings, get_settings
from app.db import Database, make_engine
from app.routes import dataset, health
from app.routes.collections import collection_router

PROJECT_ROOT = Path(__file__).resolve().parent.parent
API_PREFIX = "/api/v1"

DESCRIPTION = """
The facts of the China–Central Asia summits, each cited back to the words that state it.

Every entity carries `sources`: citations whose `quote` is the exact text at `start:end` of the
cited source's stored text (`GET /api/v1/sources/{id}`). Lists take `limit`, `offset`, `sort` and
`fields`, and answer with `items`, `total`, `limit`, `offset` and a `Link` header. Errors are
`application/problem+json`.
"""


def schema_head() -> str:
    """The revision the migrations end at: a database there is fully migrated."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = Database(
        make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        database.engine.dispose()

    app = FastAPI(
        title="China–Central Asia summit data",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # No redirect from `/countries/` to `/countries`: it would echo the Host header.
        redirect_slashes=False,
    )
    app.state.database = database
    app.state.schema_head = schema_head()
    problems.install(app)

    api = APIRouter(prefix=API_PREFIX)
    for collection in COLLECTIONS:
        api.include_router(collection_router(collection))
    api.include_router(dataset.router)
    app.include_router(api)
    app.include_router(health.router)
    return app
