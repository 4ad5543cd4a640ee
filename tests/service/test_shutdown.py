"""Graceful shutdown: on SIGTERM a real server stops accepting connections and finishes the
request in flight, a write included, before it exits."""

import json
import signal
import socket
import time
from urllib.parse import urlsplit

import pytest

from app.config import Settings
from app.main import create_app
from tests.conftest import API_KEYS, EDITOR_KEY, app_client
from tests.server import server_process

pytestmark = pytest.mark.anyio

NEW_ROW = {
    "id": "shutdown-write",
    "year": 2020,
    "reporter": "CHN",
    "partners": ["KAZ"],
    "flow": "export",
    "value": 1234567,
    "currency": "USD",
    "sources": [{"source": "iso-4217", "fields": ["currency"]}],
    "derivations": [
        {
            "fields": ["year", "reporter", "flow", "value", "partners"],
            "basis": "inferred",
            "note": "Made up for a test.",
        }
    ],
}


def _refuses_connections(host: str, port: int, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


def _interim_answer(connection: socket.socket) -> bytes:
    """The status line of the interim answer the server sends first."""
    connection.settimeout(15)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(1)
        assert chunk, "the server closed the connection"
        received += chunk
    return received.partition(b"\r\n")[0]


def _answer(connection: socket.socket) -> bytes:
    connection.settimeout(15)
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


async def test_sigterm_finishes_the_write_in_flight_then_exits(database_url):
    body = json.dumps(NEW_ROW).encode()
    with server_process(database_url, SUMMIT_API_KEYS=API_KEYS) as server:
        base_url, process = server.url, server.process
        url = urlsplit(base_url)
        host, port = url.hostname or "", url.port or 0
        connection = socket.create_connection((host, port))
        head = (
            "POST /api/v1/trade-statistics HTTP/1.1\r\n"
            f"Host: {url.netloc}\r\n"
            f"Authorization: Bearer {EDITOR_KEY}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n"
        ).encode()
        connection.sendall(head)
        # The server says it has read the head, and the app is reading the body, by asking for it.
        assert _interim_answer(connection) == b"HTTP/1.1 100 Continue"
        # Half the body: the request is in flight, waiting for the rest, when the signal comes.
        connection.sendall(body[: len(body) // 2])
        process.send_signal(signal.SIGTERM)
        assert _refuses_connections(host, port, within=10)
        assert process.poll() is None  # still finishing the request
        connection.sendall(body[len(body) // 2 :])
        answer = _answer(connection)
        connection.close()
        # Once done, uvicorn raises the signal it caught again, so the process ends as SIGTERM
        # ends one: a supervisor sees why it stopped.
        assert process.wait(timeout=15) == -signal.SIGTERM
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 201 Created"
    assert b"\r\nlocation: /api/v1/trade-statistics/shutdown-write\r\n" in rest.lower()

    # The write was committed: a new process reads it.
    async with app_client(create_app(Settings(database_url=database_url))) as client:
        written = await client.get("/api/v1/trade-statistics/shutdown-write")
    assert written.status_code == 200 and written.json()["value"] == 1234567
