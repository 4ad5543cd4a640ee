"""The pages for people in a real browser: Debian's Chromium driven by Playwright against a real
server. Every link from `/` is followed (every entity's page reached, none broken, no request to
another host), axe-core finds no accessibility violation on any kind of page, an entity's page
reads with JavaScript off, no page scrolls sideways at 375 px, and each kind of page is
photographed at 1280 and 375 px into `artifacts/screenshots/` (kept by .ci/run, ignored by git).
"""

import os
import re
import shutil
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from app.data.registry import BY_NAME
from app.main import PROJECT_ROOT
from tests.server import running_server

CHROMIUM = shutil.which("chromium")
AXE = PROJECT_ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
# .ci/run installs Chromium and axe-core and sets REQUIRE_BROWSER=1: there, a missing one fails.
pytestmark = pytest.mark.skipif(
    (CHROMIUM is None or not AXE.exists()) and not os.environ.get("REQUIRE_BROWSER"),
    reason="needs Debian's chromium and axe-core (`make install` runs npm; .ci/run installs both)",
)
# As the machine's notes advise: no background traffic, which its closed network refuses.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# One page of each kind, and its name in the screenshots.
KINDS = {
    "landing": "/",
    "collection": "/countries",
    "entity": "/commitments/cooperation-outcomes",
    "source": "/sources/article",
    "timeline": "/timeline",
    "search": "/search?q=astana",
    "not-found": "/summits/9",
}


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "REQUIRE_BROWSER is set but Chromium is not installed"
    assert AXE.exists(), "REQUIRE_BROWSER is set but axe-core is not installed: make install"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _page_of(name: str, entity: dict) -> str:
    collection = BY_NAME[name]
    return f"/{name}" if collection.singleton else f"/{name}/{entity[collection.url_key]}"


def test_every_link_from_the_front_page_works_and_stays_on_this_host(browser, database_url):
    with running_server(database_url) as base:
        export = httpx.get(f"{base}/api/v1/export").json()
        wanted = {_page_of(n, e) for n in export if n != "version" for e in export[n]}
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        seen: set[str] = set()
        queue, broken = ["/"], []
        while queue:
            path = queue.pop()
            if path in seen:
                continue
            seen.add(path)
            answer = page.goto(base + path)
            if answer is None or answer.status != 200:
                broken.append((path, answer and answer.status))
                continue
            if "text/html" not in answer.headers.get("content-type", ""):
                continue
            # A facet's values are marked rel="nofollow", as for any crawler: every
            # combination of them is a page (the in-process crawl loads each once).
            links = "a[href]:not([rel~=nofollow])"
            for href in page.eval_on_selector_all(links, "links => links.map(a => a.href)"):
                target = urlsplit(urljoin(base + path, href))
                if target.netloc != urlsplit(base).netloc:
                    continue  # a link to another host (the article's original): never loaded
                if target.path.startswith(("/api/", "/docs", "/openapi")):
                    continue
                queue.append(target.path + (f"?{target.query}" if target.query else ""))
        page.close()
    assert broken == []
    assert wanted <= seen, sorted(wanted - seen)
    assert {urlsplit(url).netloc for url in requested} == {urlsplit(base).netloc}


def test_axe_finds_no_violation_on_any_kind_of_page(browser, database_url):
    # axe is injected as a script, which the pages' policy (rightly) forbids: the check alone
    # bypasses it.
    context = browser.new_context(bypass_csp=True)
    with running_server(database_url) as base:
        page = context.new_page()
        found = {}
        for kind, path in KINDS.items():
            page.goto(base + path)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("async () => await axe.run(document)")
            found[kind] = [
                f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in result["violations"]
            ]
            assert result["passes"], kind  # axe ran its checks
    context.close()
    assert found == {kind: [] for kind in KINDS}


def test_an_entity_page_reads_with_javascript_off(browser, database_url):
    context = browser.new_context(java_script_enabled=False)
    with running_server(database_url) as base:
        page = context.new_page()
        page.goto(base + "/commitments/cooperation-outcomes")
        assert page.inner_text("h1") == "More than 100 cooperation outcomes"
        label = page.locator("dt").filter(has_text=re.compile(r"^quantity$"))
        quantity = label.locator("xpath=following-sibling::dd[1]")
        assert "100" in quantity.inner_text()
        assert "according to Wang Yi" in quantity.inner_text()
    context.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_pages_fit_the_width_and_are_photographed(browser, database_url, width):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": 900})
    with running_server(database_url) as base:
        page = context.new_page()
        wide = {}
        for kind, path in KINDS.items():
            page.goto(base + path)
            shot = SCREENSHOTS / f"{kind}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000, shot
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                wide[kind] = scroll
    context.close()
    assert wide == {}  # no page scrolls sideways
