"""The docs pages render in a real browser with no internet: headless Chromium, every host but
this one unresolvable, against the real server."""

import os
import re
import shutil
import subprocess

import httpx
import pytest

from tests.server import running_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# .ci/run installs Chromium and sets REQUIRE_BROWSER=1, so there a missing browser fails.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("REQUIRE_BROWSER"),
    reason="Chromium is not installed (`apt-get install chromium`; .ci/run installs it)",
)


def rendered_dom(url: str, profile: str) -> str:
    """The DOM of `url` after its scripts ran, in headless Chromium that can reach no host but
    127.0.0.1: a page needing a CDN would render nothing."""
    assert CHROMIUM is not None, "REQUIRE_BROWSER is set but Chromium is not installed"
    run = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return run.stdout


@pytest.fixture(scope="module")
def served_docs(databases, template_database):
    with running_server(databases.copy(template_database)) as base_url:
        yield base_url


def test_swagger_ui_renders_every_operation(served_docs, tmp_path):
    document = httpx.get(f"{served_docs}/openapi.json").json()
    operations = sorted((method, path) for path, ops in document["paths"].items() for method in ops)
    dom = rendered_dom(f"{served_docs}/docs", str(tmp_path / "profile"))
    rendered = re.findall(r'class="opblock opblock-(\w+)[^"]*".*?data-path="([^"]+)"', dom, re.S)
    assert sorted(rendered) == operations
    assert ("get", "/api/v1/summits/{number}") in rendered
    assert "List trade statistics" in dom


def test_redoc_renders_every_operation(served_docs, tmp_path):
    dom = rendered_dom(f"{served_docs}/redoc", str(tmp_path / "profile"))
    assert "China–Central Asia summit data" in dom
    for summary in ("List countries", "Get a summit by number", "Full-text search"):
        assert summary in dom
