"""The pages for people: a table per collection, a page per entity with each value beside what
supports it, the source with every cited passage marked, the timeline and search; all of them
reached by following links from `/`, and served over HTTP as the JSON is."""

import io
import re
from csv import reader as csv_reader
from urllib.parse import urljoin, urlsplit

import pytest

from app.data.registry import BY_NAME
from tests.conftest import assert_problem
from tests.pages.test_landing import BROWSER, _parsed

pytestmark = pytest.mark.anyio

PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'"
)


async def _page(client, path: str):
    response = await client.get(path, headers=BROWSER)
    assert response.status_code == 200, (path, response.text[:300])
    assert response.headers["content-type"] == "text/html; charset=utf-8", path
    return response


def _page_of(collection, entity) -> str:
    if collection.singleton:
        return f"/{collection.name}"
    return f"/{collection.name}/{entity[collection.url_key]}"


async def test_following_links_from_the_front_page_reaches_every_entity(client):
    """A crawl of every local link from `/`: no link is broken, and every entity has a page
    that something links to."""
    export = (await client.get("/api/v1/export")).json()
    wanted = {
        _page_of(BY_NAME[name], e) for name in export if name != "version" for e in export[name]
    }
    seen, queue, broken, unfollowed = set(), ["/"], [], set()
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        response = await client.get(path, headers=BROWSER)
        if response.status_code != 200:
            broken.append((path, response.status_code))
            continue
        if not response.headers["content-type"].startswith("text/html"):
            continue
        page = _parsed(response.text)
        for reference in page.references:
            target = urlsplit(urljoin(path, reference))
            if target.netloc or target.path.startswith(("/api/", "/docs", "/openapi", "/static")):
                continue  # another host (a link only), the JSON, the docs, the stylesheet
            local = target.path + (f"?{target.query}" if target.query else "")
            if reference in page.unfollowed:  # a facet's value: served, but not crawled on
                unfollowed.add(local)
                continue
            queue.append(local)
    for path in sorted(unfollowed - seen):
        response = await client.get(path, headers=BROWSER)
        if response.status_code != 200:
            broken.append((path, response.status_code))
    assert broken == []
    assert unfollowed  # the facets' links were among them
    assert wanted <= seen, sorted(wanted - seen)


async def test_a_collection_page_is_a_table_with_sorting_filters_paging_and_csv(client):
    response = await _page(client, "/countries?region=central-asia&sort=-name")
    text = response.text
    assert text.count("<tr>") == 1 + 5  # the header and the five Central Asian countries
    names = re.findall(r'<a href="/countries/([A-Z]{3})">', text)
    assert names == ["UZB", "TKM", "TJK", "KGZ", "KAZ"]
    assert 'href="?region=central-asia&amp;sort=name"' in text  # sorted down: the header ups it
    assert '<input id="filter-region" name="region" value="central-asia">' in text
    csv = re.search(r'<a href="(/api/v1/countries\?[^"]+)">This list as CSV', text)[1]
    rows = list(csv_reader(io.StringIO((await client.get(csv.replace("&amp;", "&"))).text)))
    assert len(rows) == 6 and rows[1][0] == "UZB"
    json_url = "/api/v1/countries?region=central-asia&amp;sort=-name"
    assert f'<link rel="alternate" type="application/json" href="{json_url}">' in text
    for json_only in ("fields=id", "format=csv", "cursor=abc"):
        refused = await client.get(f"/countries?{json_only}", headers=BROWSER)
        assert refused.status_code == 400 and "/api/v1/countries does" in refused.text
    changed = (await _page(client, "/countries?changed_since=40")).text
    assert "Nothing matches." in changed
    paged = (await _page(client, "/commitments?limit=2&offset=2")).text
    assert 'rel="prev"' in paged and 'rel="next"' in paged and "3–4 of 6" in paged


async def test_an_entity_page_shows_each_value_beside_its_support(client):
    text = (await _page(client, "/commitments/cooperation-outcomes")).text
    outcome = (await client.get("/api/v1/commitments/cooperation-outcomes")).json()
    (quote,) = [c for c in outcome["sources"] if "quantity" in c["fields"]]
    assert f"<mark>{quote['quote']}</mark>" in text
    assert 'according to <a href="/people/wang-yi">Wang Yi</a>' in text
    assert f'href="/sources/article#q-{quote["start"]}-{quote["end"]}"' in text
    (derivation,) = outcome["derivations"]
    assert f"<strong>inferred:</strong> {derivation['note']}" in text
    summit = (await _page(client, "/summits/2")).text
    assert '<a href="/countries/KAZ">Kazakhstan</a>' in summit  # the host, linked
    assert '<a href="/agreements/' in summit  # what its detail embeds
    assert '<a href="/sources/iso-3166-1">' in (await _page(client, "/countries/KAZ")).text


async def test_the_source_page_marks_every_cited_passage_once(client):
    text = (await _page(client, "/sources/article")).text
    annotations = (await client.get("/api/v1/sources/article/annotations?limit=500")).json()
    passages = {(a["start"], a["end"]) for a in annotations["items"]}
    for start, end in passages:
        assert text.count(f'id="q-{start}-{end}"') == 1, (start, end)
    for path in {a["url"].removeprefix("/api/v1") for a in annotations["items"]}:
        assert f'<a href="{path}">' in text, path
    article = (await client.get("/api/v1/sources/article")).json()
    plain = re.sub(
        r"<sup>.*?</sup>|<[^>]+>", "", text.split('class="source-text">')[1].split("</div>")[0]
    )
    assert (
        plain.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&") == article["text"]
    )


async def test_pages_are_served_as_the_json_is(client):
    first = await _page(client, "/summits/2")
    assert first.headers["content-security-policy"] == PAGE_POLICY
    assert first.headers["x-content-type-options"] == "nosniff"
    assert first.headers["cache-control"] == "public, max-age=60"
    etag = first.headers["etag"]
    again = await client.get("/summits/2", headers={**BROWSER, "If-None-Match": etag})
    assert again.status_code == 304
    head = await client.head("/summits/2", headers=BROWSER)
    assert head.status_code == 200 and head.content == b""
    zipped = await client.get("/summits/2", headers={**BROWSER, "Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert '<html lang="en">' in first.text
    assert '<link rel="alternate" type="application/json" href="/api/v1/summits/2">' in first.text


async def test_the_json_links_its_page(client):
    detail = await client.get("/api/v1/summits/2")
    assert detail.headers["link"] == '</summits/2>; rel="alternate"; type="text/html"'
    listed = await client.get("/api/v1/countries?region=central-asia&limit=2")
    assert (
        '</countries?region=central-asia&limit=2>; rel="alternate"; type="text/html"'
        in listed.headers["link"]
    )
    assert 'rel="next"' in listed.headers["link"]


async def test_an_unknown_page_is_a_page_for_a_browser_and_a_problem_for_the_rest(client):
    for path in ("/summits/9", "/no-such-page"):
        page = await client.get(path, headers=BROWSER)
        assert page.status_code == 404
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "<h1>404 Not Found</h1>" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert_problem(await client.get(path), 404)
    wrong = await client.get("/countries?limit=0", headers=BROWSER)
    assert wrong.status_code == 400 and "limit" in wrong.text
    for path in ("/summits/2?colour=red", "/timeline?x=1", "/search?q=a&page=2", "/mechanism?x=1"):
        assert (await client.get(path, headers=BROWSER)).status_code == 400, path
    assert_problem(await client.get("/api/v1/nothing", headers=BROWSER), 404)  # the API's own


async def test_search_and_timeline_pages(client):
    found = (await _page(client, "/search?q=astana")).text
    assert '<form method="get" action="/search" role="search">' in found
    assert "<mark>Astana</mark>" in found
    assert '<a href="/summits/2">' in found
    hostile = (await _page(client, "/search?q=%3Cscript%3E")).text
    assert "<script>" not in hostile.split("</head>")[1]
    events = (await client.get("/api/v1/timeline?limit=500")).json()["items"]
    timeline = (await _page(client, "/timeline")).text
    for event in events:
        assert f'<a href="{event["url"].removeprefix("/api/v1")}">' in timeline


async def test_a_filter_form_left_partly_empty_filters_by_what_it_was_given(client):
    text = (await _page(client, "/summits?year=2025&host=&sort=-number")).text
    assert re.findall(r'<a href="/summits/(\d)">', text) == ["2"]
    assert '<input type="hidden" name="sort" value="-number">' in text
    assert "2 in all" not in text
    past = (await _page(client, "/summits?limit=1&offset=5")).text
    assert "Nothing this far on: 2 in all" in past
    assert 'href="?limit=1&amp;offset=1" rel="prev"' in past


async def test_an_error_page_links_the_problem_as_the_api_answers_it(client):
    text = (await client.get("/summits/9", headers=BROWSER)).text
    assert '<link rel="alternate" type="application/json" href="/api/v1/summits/9">' in text


async def test_stored_text_cannot_break_the_landing_page_or_link_a_script(writer):
    hostile = {"title": "Harmless <!--<script> title </script> & more"}
    assert (await writer.patch("/api/v1/sources/article", json=hostile)).status_code == 200
    refused = await writer.patch("/api/v1/sources/article", json={"url": "javascript:alert(1)"})
    assert_problem(refused, 422)
    text = (await writer.get("/", headers={**BROWSER, "Authorization": ""})).text
    (block,) = _parsed(text).json_ld
    assert "<" not in block and ">" not in block and "&" not in block
    assert "<h1>China–Central Asia summit data</h1>" in text
    assert "Harmless &lt;!--&lt;script&gt; title" in text
    await writer.patch("/api/v1/sources/article", json={"type": "reference"})
    assert (await writer.get("/", headers={**BROWSER, "Authorization": ""})).status_code == 200


async def test_a_country_page_shows_its_names_each_marked_with_its_language(client):
    text = (await _page(client, "/countries/KAZ")).text
    names = (await client.get("/api/v1/countries/KAZ")).json()["names"]
    row = re.search(r"<dt>names</dt>\s*<dd>(.*?)</dd>", text, re.S)[1]
    assert re.findall(r'<span lang="([a-z]+)">([^<]+)</span>', row) == list(names.items())
    russian = '<span class="key">Russian <small>ru</small></span> <span lang="ru">Казахстан</span>'
    assert russian in row
    assert '<a href="/sources/iso-3166-1-translations">' in row  # the support, beside them
    assert "{" not in row  # never the raw JSON
    china = (await _page(client, "/countries/CHN")).text
    assert 'lang="tk"' not in china and 'lang="uz"' not in china  # untranslated: not shown
    table = (await _page(client, "/countries")).text
    assert '<span lang="zh">中国</span> <small>zh</small>' in table
