"""The list grammar all collections share: envelope, Link header, paging, sort, fields, filters."""

import re

import pytest

pytestmark = pytest.mark.anyio


def links(response) -> dict[str, str]:
    """The Link header as {rel: url}."""
    found = re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("link", ""))
    return {rel: url for url, rel in found}


async def test_envelope_and_links_walk_every_page(client):
    response = await client.get("/api/v1/priority-areas?limit=4")
    body = response.json()
    assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (6, 4, 0, 4)
    first_page_links = links(response)
    assert "prev" not in first_page_links
    assert first_page_links["next"].startswith("/api/v1/priority-areas?limit=4&cursor=")
    assert first_page_links["first"] == "/api/v1/priority-areas?limit=4&offset=0"

    second = await client.get(first_page_links["next"])
    assert [a["position"] for a in second.json()["items"]] == [5, 6]
    assert second.json()["offset"] == 4
    assert "next" not in links(second)
    back = await client.get(links(second)["prev"])
    assert back.json()["items"] == body["items"]


async def test_links_are_relative_so_a_forged_host_is_never_echoed(client):
    response = await client.get("/api/v1/countries?limit=2", headers={"Host": "evil.example"})
    pages = links(response)
    assert pages.pop("alternate") == "/countries?limit=2"  # the page for people
    assert all(url.startswith("/api/v1/countries?limit=2&") for url in pages.values())
    assert "evil" not in response.headers["link"]


async def test_links_keep_the_filters(client):
    response = await client.get("/api/v1/countries?region=central-asia&limit=2")
    assert response.json()["total"] == 5
    assert "region=central-asia" in links(response)["next"]


async def test_offset_past_the_end_is_an_empty_page(client):
    body = (await client.get("/api/v1/countries?offset=100")).json()
    assert (body["items"], body["total"], body["offset"]) == ([], 6, 100)


async def test_sort_by_several_fields(client):
    body = (await client.get("/api/v1/countries?sort=region,-name")).json()
    assert [c["id"] for c in body["items"]] == ["UZB", "TKM", "TJK", "KGZ", "KAZ", "CHN"]
    body = (await client.get("/api/v1/summits?sort=-start_date")).json()
    assert [s["number"] for s in body["items"]] == [2, 1]


async def test_fields_returns_only_those(client):
    body = (await client.get("/api/v1/countries?fields=id,capital&limit=1")).json()
    assert body["items"] == [{"id": "CHN", "capital": "Beijing"}]
    assert body["total"] == 6


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/countries?region=central-asia", ["KAZ", "KGZ", "TJK", "TKM", "UZB"]),
        ("/api/v1/countries?region=east-asia", ["CHN"]),
        ("/api/v1/summits?year=2023", ["first-summit"]),
        ("/api/v1/summits?host=kz", ["second-summit"]),
        ("/api/v1/summits?host=CHN", ["first-summit"]),
        ("/api/v1/summits?host=FRA", []),
        ("/api/v1/agreements?summit=1", []),
        (
            "/api/v1/agreements?signatory=uz&sort=-id",
            [
                "treaty-on-eternal-good-neighborliness-friendship-and-cooperation",
                "action-plan-for-high-quality-belt-and-road-cooperation",
            ],
        ),
        ("/api/v1/trade-statistics?currency=usd", ["china-central-asia-trade-2024-usd"]),
        ("/api/v1/trade-statistics?year_from=2025", []),
        (
            "/api/v1/trade-statistics?year_from=2013&year_to=2024&partner=KG",
            [
                "china-central-asia-trade-2024-cny",
                "china-central-asia-trade-2024-usd",
            ],
        ),
        ("/api/v1/trade-statistics?partner=CN", []),
    ],
)
async def test_filters(client, path, expected):
    response = await client.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["items"]] == expected
    assert body["total"] == len(expected)


@pytest.mark.parametrize("code", ["KAZ", "kaz", "KZ", "kz", "Kz"])
async def test_country_by_any_code(client, code):
    body = (await client.get(f"/api/v1/countries/{code}")).json()
    assert body["id"] == "KAZ"
    assert [s["number"] for s in body["hosted_summits"]] == [2]
    assert len(body["agreements"]) == 2


async def test_summit_by_number_or_slug(client):
    by_number = (await client.get("/api/v1/summits/1")).json()
    by_slug = (await client.get("/api/v1/summits/first-summit")).json()
    assert by_number == by_slug
    assert by_number["city"] == "Xi'an"


async def test_detail_of_every_collection(client):
    for path, key in [
        ("agreements", "treaty-on-eternal-good-neighborliness-friendship-and-cooperation"),
        ("cooperation-centers", "education-exchange"),
        ("trade-statistics", "china-central-asia-trade-2024-usd"),
        ("priority-areas", "green-mining"),
        ("principles", "mutual-trust-and-support"),
        ("commitments", "training-opportunities"),
        ("people", "wang-yi"),
        ("sources", "iso-3166-1"),
    ]:
        response = await client.get(f"/api/v1/{path}/{key}")
        assert response.status_code == 200, path
        assert response.json()["id"] == key
