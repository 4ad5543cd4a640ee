"""The application factory: `uvicorn --factory app.main:create_app`."""

import asyncio
import gc
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from app.api import openapi, problems
from app.api.dependencies import check_query_string
from app.api.routes import annotations, changes, datapackage, dataset, feed, health
from app.api.routes.collection_reads import collection_router
from app.api.routes.collection_writes import write_router
from app.config import API_PREFIX, Settings, get_settings
from app.data.engine import Database, make_engine
from app.data.notifier import ChangeNotifier
from app.data.registry import COLLECTIONS
from app.data.version import VersionReader
from app.middleware import metrics
from app.middleware import stack as middleware
from app.middleware.caching import ResponseCache
from app.pages import errors as page_errors
from app.pages import routes as pages
from app.pages.collections import collection_pages
from app.pages.rendering import STATIC

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DESCRIPTION = """
The facts of the China–Central Asia summits, each cited back to the words that state it.

Every entity carries `sources`: citations whose `quote` is the exact text at `start:end` of the
cited source's stored text (`GET /api/v1/sources/{id}`), each naming the `fields` it supports and
who said the words (`said_by`); and `derivations`, which label every value the sources do not
state in so many words (`derived` by a rule, or `inferred` from context). Every other field with a
value is supported by one of them. `GET /api/v1/sources/{id}/annotations` lists the citations
into a source in the order of its text. Lists take `limit`, `offset`, `sort` and
`fields`, and answer with `items`, `total`, `limit`, `offset` and a `Link` header. Errors are
`application/problem+json`.
"""


OPENAPI_TAGS = [{"name": c.name, "description": c.description} for c in COLLECTIONS] + [
    {"name": "dataset", "description": "The timeline, full-text search and the export."},
    {"name": "health", "description": "Liveness and readiness."},
]


def schema_head() -> str:
    """The revision the migrations end at: a database there is fully migrated."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _end_streams_on_exit(notifier: ChangeNotifier) -> Callable[[], None]:
    """End every open stream as soon as SIGTERM or SIGINT comes, then let the server handle
    the signal: it waits for open responses before it stops, and a stream never ends by
    itself. Returns what puts the server's handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {
        sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)
    }

    def end_streams(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(notifier.close)
        handler = previous[signum]
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:  # no server to hand it to: what it would have done
            signal.signal(signum, handler)
            signal.raise_signal(signum)

    for sig in previous:
        signal.signal(sig, end_streams)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = Database(
        make_engine(
            settings.database_url,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            query_timeout_ms=settings.query_timeout_ms or None,
        )
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What exists at start (routes, models, schemas) lives as long as the process: keep it
        # out of the garbage collector's full passes, which would otherwise walk all of it and
        # hold every request for a few hundred milliseconds each time.
        gc.collect()
        gc.freeze()
        restore_signals = _end_streams_on_exit(app.state.notifier)
        yield
        restore_signals()
        app.state.notifier.close()
        gc.unfreeze()
        app.state.dataset_version.close()
        database.engine.dispose()

    # FastAPIOffline serves Swagger UI's and ReDoc's scripts from the package, not a CDN.
    app = FastAPIOffline(
        title="China–Central Asia summit data",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # No redirect from `/countries/` to `/countries`: it would echo the Host header.
        redirect_slashes=False,
        dependencies=[Depends(check_query_string)],
        openapi_tags=OPENAPI_TAGS,
        telemetry={
            "tracing": settings.opentelemetry,
            "metrics": settings.opentelemetry,
            "logs": settings.opentelemetry,
        },
    )
    app.state.database = database
    app.state.dataset_version = VersionReader(
        database.engine, safety_seconds=settings.stream_safety_seconds
    )
    app.state.notifier = ChangeNotifier(
        database.engine,
        app.state.dataset_version,
        poll_seconds=settings.stream_poll_seconds,
        safety_seconds=settings.stream_safety_seconds,
    )
    app.state.max_streams = settings.max_streams
    app.state.stream_heartbeat_seconds = settings.stream_heartbeat_seconds
    app.state.response_cache = ResponseCache(
        max_entries=settings.response_cache_entries, max_bytes=settings.response_cache_bytes
    )
    app.state.schema_head = schema_head()
    app.state.metrics = metrics.Metrics()
    problems.install(app)
    page_errors.install(app)
    middleware.install(app, settings)
    openapi.install(app, database)

    app.include_router(api_router())
    app.include_router(pages.router)
    for collection in COLLECTIONS:
        app.include_router(collection_pages(collection))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app


@cache
def api_router() -> APIRouter:
    """Every route under the API prefix. Routes depend on no setting (they find the database
    on `request.app.state`), so they are built once per process, whatever the apps."""
    api = APIRouter(prefix=API_PREFIX)
    for collection in COLLECTIONS:
        api.include_router(collection_router(collection))
        api.include_router(write_router(collection))
    api.include_router(annotations.router)
    api.include_router(dataset.router)
    api.include_router(datapackage.router)
    api.include_router(changes.router)
    api.include_router(feed.router)
    return api
