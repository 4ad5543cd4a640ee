"""A real uvicorn process serving the app, for tests that need real sockets and concurrency."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import httpx

from app.main import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_ready(process: subprocess.Popen[bytes], base_url: str, server: "Server") -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not become ready:\n{server.stderr()}{server.stdout()}")
        time.sleep(0.1)


@dataclass
class Server:
    """A server process and what it has written so far."""

    url: str
    process: subprocess.Popen[bytes]
    _stdout: IO[bytes]
    _stderr: IO[bytes]

    def stdout(self) -> str:
        self._stdout.seek(0)
        return self._stdout.read().decode(errors="replace")

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")


@contextmanager
def running_server(database_url: str, **environment: str) -> Iterator[str]:
    """Start `uvicorn --factory app.main:create_app` on a free port; yield its base URL."""
    with server_process(database_url, **environment) as server:
        yield server.url


@contextmanager
def server_process(database_url: str, **environment: str) -> Iterator[Server]:
    """As `running_server`, with the process and its output, for tests that signal it or read
    what it wrote."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # Output goes to files, not pipes: an unread pipe fills up and blocks the server.
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "app.main:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--loop",
                "asyncio",  # as `make run` serves; see the README's "Running it for real"
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DATABASE_URL": database_url, **environment},
            stdout=stdout,
            stderr=stderr,
        )
        server = Server(base_url, process, stdout, stderr)
        try:
            _wait_until_ready(process, base_url, server)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
