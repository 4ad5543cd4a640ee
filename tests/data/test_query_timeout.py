"""Bounded queries: no statement runs past `query_timeout_ms` (PostgreSQL's statement_timeout,
SQLite's progress handler), the error says it timed out, and the connection serves the next one."""

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.config import Settings
from app.data.engine import DEADLINE, make_engine, why_unavailable
from app.main import create_app
from tests.conftest import BACKEND, app_client, assert_problem

# Work that takes seconds in the database itself: a count to a hundred million, or a sleep.
SLOW = {
    "sqlite": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000000)"
    " SELECT count(*) FROM n",
    "postgresql": "SELECT pg_sleep(10)",
}[BACKEND]


def test_a_statement_past_the_timeout_is_stopped_and_the_connection_serves_on(database_url):
    engine = make_engine(database_url, query_timeout_ms=200)
    try:
        with engine.connect() as connection:
            started = time.monotonic()
            with pytest.raises(OperationalError) as stopped:
                connection.execute(text(SLOW))
            took = time.monotonic() - started
            connection.rollback()
            assert why_unavailable(stopped.value) == "timed_out"
            assert 0.2 <= took < 2
            # The same connection, straight after: fit for the next statement.
            assert connection.execute(text("SELECT count(*) FROM country")).scalar_one() == 6
    finally:
        engine.dispose()


def test_without_a_timeout_nothing_is_bounded(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            if BACKEND == "postgresql":
                assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "0"
            else:
                assert DEADLINE not in connection.info  # no progress handler installed
    finally:
        engine.dispose()


@pytest.mark.anyio
@pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="holds a table lock that reads wait on; SQLite's readers never wait on a writer",
)
async def test_a_request_waiting_past_the_timeout_is_503_and_the_next_is_served(database_url):
    """A read that waits on a lock the test holds runs past the timeout: 503, then served."""
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        engine = make_engine(database_url)
        with engine.begin() as connection:
            connection.execute(text("LOCK TABLE country IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            release.wait(10)
        engine.dispose()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    locked.wait(10)
    app = create_app(Settings(database_url=database_url, query_timeout_ms=300))
    try:
        async with app_client(app) as client:
            started = time.monotonic()
            waited = await client.get("/api/v1/countries")
            took = time.monotonic() - started
            release.set()
            holder.join()
            served = await client.get("/api/v1/countries")
    finally:
        release.set()
        holder.join()
    problem = assert_problem(waited, 503)
    assert "QUERY_TIMEOUT_MS" in problem["detail"] and waited.headers["retry-after"] == "5"
    assert took < 3
    assert served.status_code == 200 and served.json()["total"] == 6
