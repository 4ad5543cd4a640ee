"""The public change feed: every change after a dataset version, oldest first, for mirrors; as
JSON pages, or as Server-Sent Events that replay and then follow the changes live."""

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.api.dependencies import DatabaseDep, refuse_future_version
from app.api.parameters import NoQuery, VersionNumber
from app.api.problems import Problem, bad_parameter
from app.api.rendering import accepted_weights, json_response, quality_of
from app.api.urls import with_url
from app.data import history
from app.data.engine import Database
from app.data.notifier import ChangeNotifier
from app.data.tables import Operation

router = APIRouter(tags=["sync"])

EVENT_STREAM = "text/event-stream"
HEARTBEAT = ": heartbeat\n\n"
STREAMS_RETRY_AFTER = "5"


class FeedQuery(NoQuery):
    since: VersionNumber = Field(
        0,
        description="The dataset version the client has (an export's `version`, the last"
        " `last_version`): the changes after it. 0, the default, is every change.",
    )
    limit: int = Field(100, ge=1, le=1000, description="Changes per page, 1 to 1000.")


class FeedItem(BaseModel):
    version: int = Field(description="The dataset version this change made.")
    at: dt.datetime = Field(description="When the change was made (UTC).")
    op: Operation
    type: str = Field(description="The collection of the entity changed.")
    id: str
    url: str = Field(description="The entity's path, where it is served while it exists.")
    entity: dict[str, Any] | None = Field(
        description="The entity after the change, as the export holds it; null if deleted."
    )


class Feed(BaseModel):
    items: list[FeedItem]
    last_version: int = Field(
        description="The version to resume from (`since` of the next request): the last"
        " item's, or `since` when there is none."
    )


def read_feed(
    database: Database, since: int, limit: int, parameter: str = "since"
) -> tuple[Feed, int]:
    """Up to `limit` changes after `since`, and the dataset version they were read at; a
    `since` past the current version is a 400 naming `parameter`."""
    with database.session() as session:
        refuse_future_version(session, parameter, since)
        changes = history.changes_since(session, since, limit=limit)
        current = history.current_version(session)
    items = [FeedItem.model_validate(with_url(item)) for item in history.as_items(changes)]
    return Feed(items=items, last_version=items[-1].version if items else since), current


def feed_page(database: Database, since: int, limit: int) -> Feed:
    return read_feed(database, since, limit)[0]


def _event(item: FeedItem) -> str:
    return f"id: {item.version}\nevent: {item.op}\ndata: {item.model_dump_json()}\n\n"


async def _events(
    database: Database,
    notifier: ChangeNotifier,
    first: tuple[Feed, int],
    *,
    limit: int,
    heartbeat_seconds: float,
) -> AsyncIterator[str]:
    """Each change after the first page's `since`, then each change as it is made, and a
    comment line whenever `heartbeat_seconds` pass without one; until the process stops."""
    page, read_at = first
    while not notifier.closed:
        for item in page.items:
            yield _event(item)
        if len(page.items) < limit:  # caught up: wait, holding no connection
            seen = max(read_at, page.last_version)
            while not await notifier.wait_past(seen, timeout=heartbeat_seconds):
                if notifier.closed:
                    return
                yield HEARTBEAT
        if notifier.closed:
            return
        page, read_at = await run_in_threadpool(read_feed, database, page.last_version, limit)


class EventStreamResponse(StreamingResponse):
    """A stream the notifier counts as listening from before it starts until it ends, however
    it ends (even before its first byte, when the client goes away)."""

    def __init__(self, content: AsyncIterator[str], notifier: ChangeNotifier) -> None:
        super().__init__(content, media_type=EVENT_STREAM, headers={"X-Accel-Buffering": "no"})
        self._notifier = notifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._notifier.remove_listener()


VERSION_TEXT = re.compile(r"[0-9]{1,10}")


def _resume_point(since: int, last_event_id: str | None) -> tuple[str, int]:
    """Where a stream starts, and the parameter that says so: after the `Last-Event-ID` a
    reconnecting client sends, else after `since`."""
    if last_event_id is None:
        return "since", since
    if not VERSION_TEXT.fullmatch(last_event_id):
        raise bad_parameter("Last-Event-ID", "must be a dataset version, as an event's id")
    return "Last-Event-ID", int(last_event_id)


async def _stream(
    request: Request, database: Database, resume: tuple[str, int], limit: int
) -> EventStreamResponse:
    parameter, since = resume
    first = await run_in_threadpool(read_feed, database, since, limit, parameter)  # 400, 503
    notifier: ChangeNotifier = request.app.state.notifier
    most = request.app.state.max_streams
    if notifier.listeners >= most or notifier.closed:
        raise Problem(
            503,
            f"This process holds as many open streams as it may ({most}).",
            headers={"Retry-After": STREAMS_RETRY_AFTER},
        )
    notifier.add_listener()
    heartbeat = request.app.state.stream_heartbeat_seconds
    events = _events(database, notifier, first, limit=limit, heartbeat_seconds=heartbeat)
    return EventStreamResponse(events, notifier)


def wants_event_stream(request: Request) -> bool:
    """Whether the client asks for the event stream over JSON (named, with a weight above 0
    and above JSON's; `*/*` is JSON)."""
    weights = accepted_weights(request.headers.get("accept", ""))
    stream = weights.get(EVENT_STREAM, 0.0)
    return stream > 0 and stream >= quality_of(weights, "application/json")


@router.get(
    "/feed",
    response_model=Feed,
    summary="Every change after a dataset version, oldest first",
    description="Public: it never says who made a change (`/changes` does, behind a key)."
    " Applying it from an export's `version` onward to that export gives the current export,"
    ' deletes included. `Link: rel="next"` is where to ask next.\n\n'
    "With `Accept: text/event-stream`, the same changes as Server-Sent Events (`id:` the"
    " version, `event:` the op, `data:` the item), replayed from `since` or from the"
    " `Last-Event-ID` header, then each change as any process makes it, and a comment line"
    " at least every 15 seconds. A process holds at most MAX_STREAMS streams: past it, 503.",
    operation_id="get_feed",
    responses={
        200: {
            "content": {
                EVENT_STREAM: {"schema": {"type": "string", "description": "Server-Sent Events."}}
            }
        }
    },
)
async def get_feed(
    request: Request,
    database: DatabaseDep,
    query: Annotated[FeedQuery, Query()],
    last_event_id: Annotated[
        str | None,
        Header(
            description="With `text/event-stream`: the id of the last event received; the"
            " stream resumes after it (instead of `since`)."
        ),
    ] = None,
) -> Response:
    if wants_event_stream(request):
        resume = _resume_point(query.since, last_event_id)
        return await _stream(request, database, resume, query.limit)
    feed = feed_page(database, query.since, query.limit)
    following = request.url.include_query_params(since=feed.last_version, limit=query.limit)
    link = f'<{request.url.path}?{following.query}>; rel="next"'
    return json_response(feed, headers={"Link": link})
