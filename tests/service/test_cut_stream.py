"""A streamed export whose database fails halfway ends as a cut stream (an aborted chunked body),
never as a clean end a client would take for the whole table."""

import httpx
import pytest
from sqlalchemy import text

from app.data.engine import make_engine
from tests.conftest import BACKEND
from tests.server import running_server

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="cuts the export's own connection with pg_terminate_backend: this run is on SQLite",
)

ROWS = 20_000  # megabytes of CSV: far more than the sockets between server and client hold


def _add_trade_rows(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO trade_statistic (id, year, reporter, flow, value, currency)"
                " SELECT 'synthetic-' || n, 2000 + n % 20, 'CHN', 'total', n, 'USD'"
                " FROM generate_series(1, :rows) AS n"
            ),
            {"rows": ROWS},
        )
    engine.dispose()


def _cut_the_export(database_url: str) -> int:
    """Ends every other session on this test's database (the export's): as a crash would."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        cut = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND state = 'idle in transaction'"
            )
        ).scalar_one()
    engine.dispose()
    return int(cut)


def test_an_export_cut_halfway_is_an_aborted_body(database_url):
    _add_trade_rows(database_url)
    with running_server(database_url) as base:
        whole = httpx.get(f"{base}/api/v1/export/trade-statistics", timeout=30)
        assert whole.text.count("\r\nsynthetic-") == ROWS  # the whole table, when nothing fails
        received = b""
        with (
            httpx.Client(timeout=30) as client,
            client.stream(
                "GET",
                f"{base}/api/v1/export/trade-statistics",
                headers={"Accept-Encoding": "identity"},
            ) as response,
        ):
            assert response.status_code == 200
            chunks = response.iter_raw()
            received += next(chunks)
            assert _cut_the_export(database_url) == 1
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in chunks:
                    received += chunk
    assert 0 < received.count(b"\r\nsynthetic-") < ROWS
