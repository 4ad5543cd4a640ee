"""The Dockerfile, read (no Docker engine runs here): slim and multi-stage, a non-root user, a
health check on /readyz, and the port it exposes is the one the service listens on."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.main import PROJECT_ROOT
from tests.conftest import SEED_VERSION
from tests.server import free_port

DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
ENTRYPOINT = (PROJECT_ROOT / "docker-entrypoint.sh").read_text()


def instructions(name: str) -> list[str]:
    """The arguments of each `name` instruction, continuation lines included."""
    return re.findall(rf"^{name} ((?:[^\n]*\\\n)*[^\n]*)$", DOCKERFILE, re.M)


def test_multi_stage_on_a_slim_base():
    bases = instructions("FROM")
    assert len(bases) == 2
    assert all(base.startswith("python:3.11-slim") for base in bases)
    assert instructions("COPY --from=build")


def test_runs_as_a_non_root_user():
    (user,) = instructions("USER")
    assert user not in ("root", "0")
    assert f"useradd --system --uid 10001 --no-create-home --home-dir /srv {user}" in DOCKERFILE


def test_health_check_asks_readyz_on_the_served_port():
    (check,) = instructions("HEALTHCHECK")
    assert "/readyz" in check and "os.environ['PORT']" in check
    (exposed,) = instructions("EXPOSE")
    assert f"PORT={exposed}" in DOCKERFILE
    assert '--port "${PORT:-8000}"' in ENTRYPOINT


def test_migrates_and_seeds_only_when_asked():
    assert 'if [ "${MIGRATE_ON_START:-1}" = "1" ]' in ENTRYPOINT
    assert "python -m seed --if-empty" in ENTRYPOINT
    assert (PROJECT_ROOT / "docker-entrypoint.sh").stat().st_mode & 0o111


def test_the_entrypoint_migrates_seeds_and_serves(tmp_path):
    """The image's start-up, run here as the image would run it (minus Docker)."""
    port = free_port()
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'summit.db'}",
        "PORT": str(port),
    }
    with (tmp_path / "log").open("wb") as log:
        process = subprocess.Popen(
            ["sh", "docker-entrypoint.sh"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            ready: httpx.Response | None = None
            for _ in range(200):
                try:
                    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    break
                time.sleep(0.1)
            if ready is None or ready.status_code != 200:
                log.flush()
                output = (tmp_path / "log").read_text(errors="replace")
                pytest.fail(f"the entrypoint's server never became ready; its log:\n{output}")
            countries = httpx.get(f"http://127.0.0.1:{port}/api/v1/countries").json()
        finally:
            process.terminate()
            process.wait(timeout=15)
    assert countries["total"] == 6
    assert f"dataset version is now {SEED_VERSION}\n" in (tmp_path / "log").read_text()
