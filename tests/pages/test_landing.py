"""`/`: the API index for clients (curl's `*/*` included), the landing page for a browser."""

import json
import re
from html.parser import HTMLParser

import pytest

from app.data.registry import COLLECTIONS

pytestmark = pytest.mark.anyio

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


class _Page(HTMLParser):
    """What a test asks of a page: its links and sources, scripts, inline styles, JSON-LD."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.unfollowed: list[str] = []  # links marked rel="nofollow": a crawler leaves them
        self.scripts: list[str] = []  # their types
        self.inline_styles = 0
        self.json_ld: list[str] = []
        self._in_json_ld = False
        self.html_lang: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "html":
            self.html_lang = attributes.get("lang")
        if "style" in attributes or tag == "style":
            self.inline_styles += 1
        for name in ("href", "src"):
            if attributes.get(name):
                self.references.append(attributes[name])
        if tag == "a" and "nofollow" in (attributes.get("rel") or "").split():
            self.unfollowed.append(attributes["href"])
        if tag == "script":
            self.scripts.append(attributes.get("type", ""))
            self._in_json_ld = attributes.get("type") == "application/ld+json"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_json_ld = False

    def handle_data(self, data):
        if self._in_json_ld:
            self.json_ld.append(data)


def _parsed(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


async def test_a_client_gets_the_api_index_linking_everything(client):
    for accept in ("*/*", "application/json", None):
        response = await client.get("/", headers={"Accept": accept} if accept else {})
        assert response.headers["content-type"] == "application/json", accept
        assert "Accept" in response.headers["vary"]
    index = response.json()
    assert index["name"] == "China–Central Asia summit data"
    assert index["version"] == "1.0.0"
    assert {c.name for c in COLLECTIONS} <= set(index["links"])
    for name in ("docs", "openapi", "export", "feed", "datapackage", "timeline"):
        assert name in index["links"]
    for name, url in index["links"].items():
        if "{" not in url:  # search's is a template
            assert (await client.get(url)).status_code == 200, name
    assert response.headers["link"] == '</>; rel="alternate"; type="text/html"'


async def test_a_browser_gets_the_landing_page(client):
    response = await client.get("/", headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Accept" in response.headers["vary"]
    assert response.headers["content-security-policy"] == (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
        " base-uri 'none'; frame-ancestors 'none'"
    )
    text = response.text
    page = _parsed(text)
    assert page.html_lang == "en"
    assert page.scripts == ["application/ld+json"]  # data, never code
    assert page.inline_styles == 0
    assert '<link rel="alternate" type="application/json" href="/">' in text
    # The summits, the key figures, the timeline drawn: one mark per date.
    assert "Second China–Central Asia Summit" in text and "674.15 billion yuan" in text
    assert "3,000" in text
    events = (await client.get("/api/v1/timeline?limit=500")).json()["items"]
    assert text.count('class="mark"') == len({e["date"] for e in events})
    assert text.count("<time>") == len(events)


async def test_every_reference_of_the_landing_page_is_served_here(client):
    page = _parsed((await client.get("/", headers=BROWSER)).text)
    article = (await client.get("/api/v1/sources/article")).json()
    local = [r for r in page.references if r.startswith("/")]
    elsewhere = [r for r in page.references if not r.startswith("/")]
    assert elsewhere == ([article["url"]] if article["url"] else [])  # a link, never a load
    assert "/static/style.css" in local
    for reference in set(local):
        assert (await client.get(reference)).status_code == 200, reference
    for collection in COLLECTIONS:
        assert f"/api/v1/export/{collection.name}" in local


async def test_the_landing_page_describes_the_dataset_for_search_engines(client):
    page = _parsed((await client.get("/", headers=BROWSER)).text)
    (block,) = page.json_ld
    dataset = json.loads(block)
    assert (dataset["@context"], dataset["@type"]) == ("https://schema.org", "Dataset")
    assert dataset["temporalCoverage"] == "2022-06/2025-06-17"
    urls = [d["contentUrl"] for d in dataset["distribution"]]
    assert len(urls) == 2 + len(COLLECTIONS)
    for url in urls:
        assert (await client.get(url)).status_code == 200, url


async def test_the_stylesheet_is_served_with_a_validator(client):
    response = await client.get("/static/style.css")
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert re.search(r"@media print", response.text)
    again = await client.get(
        "/static/style.css", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304
    head = await client.head("/", headers=BROWSER)
    assert head.status_code == 200 and head.content == b""
