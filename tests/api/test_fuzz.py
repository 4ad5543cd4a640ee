"""Schemathesis fuzzes the real server from its own /openapi.json with every check but the one
`schemathesis.toml` switches off (and says why): no server error, no response that breaks its
declared schema, status code or content type, nothing the schema forbids accepted."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import API_KEYS, EDITOR_KEY
from tests.server import running_server

SCHEMATHESIS = Path(sys.executable).with_name("st")
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is not installed")
def test_schemathesis_finds_nothing(tmp_path, database_url):
    # With a key, so that the writes are fuzzed too, not only their 401.
    with running_server(database_url, SUMMIT_API_KEYS=API_KEYS) as base_url:
        run = subprocess.run(
            [
                str(SCHEMATHESIS),
                "--config-file",
                str(CONFIG),
                "run",
                f"{base_url}/openapi.json",
                "--header",
                f"Authorization: Bearer {EDITOR_KEY}",
                "--max-examples",
                "50",
                "--max-time",
                "120",
                "--seed",
                "20261127",
                "--workers",
                "1",
                "--generation-database",
                "none",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", run.stdout)
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert selected and tested, run.stdout[-4000:]
    # Every operation selected, and every one selected tested before the time budget ran out.
    assert selected[1] == selected[2] == tested[1], run.stdout[-4000:]
