"""PostgreSQL restarting under load: the real server answers 503 (never 500) while it is down,
`/readyz` says so, and within seconds of its return everything answers again, with no restart of
the service. The test makes a cluster of its own, so that stopping it disturbs nothing else."""

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from app.data.engine import make_engine
from seed.loader import load_file
from tests.conftest import BACKEND, migrate
from tests.server import free_port, running_server

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="PostgreSQL's restart: this run is on SQLite"
)


def _postgres_binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    assert found[-1], f"PostgreSQL's {name} is not installed (.ci/run installs postgresql)"
    return str(found[-1])


class Cluster:
    """A PostgreSQL cluster in a directory of its own, run as the `postgres` user when the
    tests run as root (PostgreSQL refuses to run as root)."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.data = directory / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/summit"

    def _run(self, *command: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        self._run(_postgres_binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        log = str(self.directory / "server.log")
        self._run(
            _postgres_binary("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            log,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(_postgres_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextmanager
def own_cluster() -> Iterator[Cluster]:
    directory = Path(tempfile.mkdtemp(prefix="summit-pg-"))  # /tmp: the postgres user reaches it
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    cluster = Cluster(directory, free_port())
    cluster.create()
    cluster.start()
    try:
        yield cluster
    finally:
        with suppress(subprocess.CalledProcessError):  # stopped already
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _prepare(cluster: Cluster) -> None:
    admin = make_engine(cluster.url.replace("/summit", "/postgres"))
    with admin.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "CREATE DATABASE summit"
        )
    admin.dispose()
    migrate(cluster.url)
    engine = make_engine(cluster.url)
    load_file(engine)
    engine.dispose()


def _wait_for(url: str, status: int, within: float) -> float:
    """Seconds until `url` answers `status`; fails after `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            if httpx.get(url, timeout=2).status_code == status:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer {status} within {within} s")


def test_the_service_recovers_by_itself_when_postgresql_restarts():
    with own_cluster() as cluster:
        _prepare(cluster)
        with running_server(cluster.url) as base:
            statuses: list[int] = []
            stop = threading.Event()

            def load() -> None:
                with httpx.Client(timeout=5) as client:
                    while not stop.is_set():
                        for path in ("/api/v1/countries", "/api/v1/summits/2?fields=id"):
                            try:
                                statuses.append(client.get(base + path).status_code)
                            except httpx.TransportError:
                                statuses.append(0)

            readers = [threading.Thread(target=load) for _ in range(4)]
            for reader in readers:
                reader.start()
            try:
                time.sleep(1)
                cluster.stop()
                _wait_for(f"{base}/readyz", 503, within=10)
                down = httpx.get(f"{base}/api/v1/summits/1", timeout=5)
                assert down.status_code == 503 and down.headers["retry-after"] == "5"
                assert httpx.get(f"{base}/healthz").status_code == 200
                time.sleep(1)
                cluster.start()
                back_after = _wait_for(f"{base}/readyz", 200, within=10)
                time.sleep(1)
            finally:
                stop.set()
                for reader in readers:
                    reader.join()
            again = httpx.get(f"{base}/api/v1/summits/1")
    assert back_after < 10
    assert again.status_code == 200 and again.json()["number"] == 1
    assert set(statuses) <= {200, 503}, sorted(set(statuses))  # no 500, no dropped connection
    assert 503 in statuses and statuses[-1] == 200
