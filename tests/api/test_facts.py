"""The dataset says what the article says: the facts themselves, read through the API."""

import pytest

from app.data.registry import COLLECTIONS
from tests.conftest import NAME_LANGUAGES, pycountry_names

pytestmark = pytest.mark.anyio

SIX = ["CHN", "KAZ", "KGZ", "TJK", "TKM", "UZB"]


async def get_items(client, path: str) -> list[dict]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_the_six_countries(client):
    countries = await get_items(client, "/api/v1/countries")
    assert [(c["id"], c["iso2"], c["iso_numeric"], c["name"]) for c in countries] == [
        ("CHN", "CN", "156", "China"),
        ("KAZ", "KZ", "398", "Kazakhstan"),
        ("KGZ", "KG", "417", "Kyrgyzstan"),
        ("TJK", "TJ", "762", "Tajikistan"),
        ("TKM", "TM", "795", "Turkmenistan"),
        ("UZB", "UZ", "860", "Uzbekistan"),
    ]
    regions = {c["id"]: c["region"] for c in countries}
    assert regions == {"CHN": "east-asia"} | {code: "central-asia" for code in SIX[1:]}
    capitals = {c["id"]: c["capital"] for c in countries}
    assert capitals["KAZ"] == "Astana"
    kazakhstan = next(c for c in countries if c["id"] == "KAZ")
    assert "Astana, capital of Kazakhstan" in [s["quote"] for s in kazakhstan["sources"]]


async def test_every_code_fact_cites_a_reference_source(client):
    for country in await get_items(client, "/api/v1/countries"):
        cited = {s["source"] for s in country["sources"]}
        assert {"iso-3166-1", "un-m49"} <= cited, country["id"]
        if country["id"] != "KAZ":  # Astana is the article's; the other capitals are not
            assert "world-factbook" in cited, country["id"]


async def test_each_country_is_named_in_the_languages_of_the_six_as_pycountry_translates_it(
    client,
):
    """Every country, every language: pycountry's translation where it has one, and nothing
    where its list leaves the name untranslated (never the English name in its place)."""
    countries = await get_items(client, "/api/v1/countries")
    assert [c["id"] for c in countries] == SIX
    given = 0
    for country in countries:
        names = country["names"]
        assert names == pycountry_names(country["id"]), country["id"]
        assert list(names) == [tag for tag in NAME_LANGUAGES if tag in names]  # in that order
        assert country["name"] not in names.values(), country["id"]
        detail = (await client.get(f"/api/v1/countries/{country['id']}")).json()
        assert detail["names"] == names
        given += len(names)
    assert given == 6 * 7 - 2  # all but two: China in Turkmen and in Uzbek
    by_id = {c["id"]: c["names"] for c in countries}
    assert by_id["CHN"]["zh"] == "中国"
    assert by_id["KAZ"]["ru"] == "Казахстан"
    assert by_id["KAZ"]["kk"] == "Қазақстан"
    assert by_id["UZB"]["uz"] == "O\u02bbzbekiston"  # its okina is U+02BB, not a quote
    # pycountry's tk and uz lists give "China" for China: untranslated, so left out.
    assert "tk" not in by_id["CHN"] and "uz" not in by_id["CHN"]


async def test_the_names_are_cited_to_the_translations_pycountry_ships(client):
    source = (await client.get("/api/v1/sources/iso-3166-1-translations")).json()
    assert (source["type"], source["text"]) == ("reference", None)
    assert source["url"] == "https://salsa.debian.org/iso-codes-team/iso-codes"
    assert "pycountry" in source["title"] and "iso-codes" in source["title"]
    for country in await get_items(client, "/api/v1/countries"):
        (citation,) = [c for c in country["sources"] if "names" in c["fields"]]
        assert citation["source"] == "iso-3166-1-translations", country["id"]
        assert citation["fields"] == ["names"]
        assert citation["quote"] is citation["start"] is citation["said_by"] is None


async def test_both_summits_with_cities_hosts_and_dates(client):
    summits = await get_items(client, "/api/v1/summits")
    assert [
        (s["number"], s["city"], s["province"], s["host_country"], s["start_date"], s["end_date"])
        for s in summits
    ] == [
        (1, "Xi'an", "Shaanxi Province", "CHN", "2023-05-18", "2023-05-19"),
        (2, "Astana", None, "KAZ", "2025-06-17", "2025-06-17"),
    ]
    assert all(s["participants"] == SIX for s in summits)
    assert [s["attendees"] for s in summits] == [[], ["xi-jinping"]]
    # The article gives the second summit's day without the year: the year is a derivation.
    assert [d["basis"] for d in summits[1]["derivations"] if "start_date" in d["fields"]] == [
        "derived"
    ]


async def test_summit_detail_embeds_what_was_decided_there(client):
    response = await client.get("/api/v1/summits/2")
    summit = response.json()
    assert summit["id"] == "second-summit"
    assert len(summit["agreements"]) == 2
    assert len(summit["cooperation_centers"]) == 3
    assert len(summit["priority_areas"]) == 6
    assert len(summit["principles"]) == 4
    assert len(summit["commitments"]) == 6
    first = (await client.get("/api/v1/summits/first-summit")).json()
    assert first["number"] == 1 and first["agreements"] == []


async def test_both_agreements_with_six_signatories(client):
    agreements = await get_items(client, "/api/v1/agreements")
    assert {(a["id"], a["type"], a["summit"]) for a in agreements} == {
        ("treaty-on-eternal-good-neighborliness-friendship-and-cooperation", "treaty", 2),
        ("action-plan-for-high-quality-belt-and-road-cooperation", "action_plan", 2),
    }
    assert all(a["signatories"] == SIX for a in agreements)
    treaty = next(a for a in agreements if a["type"] == "treaty")
    # Clean text in the title; the article's line-break artifact only inside the quote.
    assert treaty["title"] == "Treaty on Eternal Good-Neighborliness, Friendship and Cooperation"
    assert any("friend-ship" in s["quote"] for s in treaty["sources"])


async def test_the_three_cooperation_centers(client):
    centers = await get_items(client, "/api/v1/cooperation-centers")
    assert sorted(c["focus"] for c in centers) == [
        "desertification prevention and control",
        "education exchange",
        "poverty reduction",
    ]
    assert {(c["summit"], c["announced_by"]) for c in centers} == {(2, "xi-jinping")}


async def test_trade_2024_in_both_currencies(client):
    stats = await get_items(client, "/api/v1/trade-statistics?sort=currency")
    assert [
        (
            s["year"],
            s["reporter"],
            s["flow"],
            s["value"],
            s["currency"],
            s["record_high"],
            s["change_percent"],
            s["change_base_year"],
        )
        for s in stats
    ] == [
        (2024, "CHN", "total", 674_150_000_000, "CNY", True, 116, 2013),
        # The dollar figure restates the yuan total; the record and the rise are the yuan's.
        (2024, "CHN", "total", 96_300_000_000, "USD", None, None, None),
    ]
    assert stats[1]["equivalent_of"] == stats[0]["id"]
    assert all(s["partners"] == SIX[1:] for s in stats)
    assert [s["value_as_stated"] for s in stats] == ["674.15 billion yuan", "US$96.3b"]


async def test_six_priority_areas_in_the_article_order(client):
    areas = await get_items(client, "/api/v1/priority-areas")
    assert [a["name"] for a in areas] == [
        "Smooth trade",
        "Industrial investment",
        "Connectivity",
        "Green mining",
        "Agricultural modernization",
        "Personnel exchanges",
    ]


async def test_four_principles_of_the_spirit(client):
    principles = await get_items(client, "/api/v1/principles")
    assert [p["position"] for p in principles] == [1, 2, 3, 4]
    assert principles[0]["name"] == "Practicing mutual respect and treating each other as equals"
    assert principles[3]["name"] == (
        "Helping each other in time of need and standing together through thick and thin"
    )
    assert {p["spirit"] for p in principles} == {"China–Central Asia Spirit"}


async def test_commitments(client):
    commitments = {c["id"]: c for c in await get_items(client, "/api/v1/commitments")}
    years = commitments["years-of-high-quality-development"]
    assert (years["kind"], years["start"], years["end"], years["parties"]) == (
        "designation",
        "2025",
        "2026",
        SIX,
    )
    training = commitments["training-opportunities"]
    assert (training["kind"], training["quantity"], training["parties"]) == (
        "pledge",
        3000,
        ["CHN"],
    )
    outcomes = commitments["cooperation-outcomes"]
    assert (outcomes["quantity"], outcomes["quantity_qualifier"]) == (100, "more than")
    focus = commitments["focus-on-six-priority-areas"]
    assert (focus["kind"], focus["parties"]) == ("pledge", SIX)
    assert "to strive for more tangible outcomes" in focus["sources"][0]["quote"]
    assert len(commitments) == 6


async def test_people(client):
    people = {p["id"]: p for p in await get_items(client, "/api/v1/people")}
    assert people["xi-jinping"]["name"] == "Xi Jinping"
    assert people["wang-yi"]["roles"] == [
        "Member of the Political Bureau of the CPC Central Committee",
        "Foreign minister",
    ]


async def test_the_mechanism(client):
    mechanism = (await client.get("/api/v1/mechanism")).json()
    assert mechanism["established"] == "2022-06"
    assert mechanism["announced_at_summit"] == 1
    assert mechanism["frequency"] == "Every two years"


LISTED = [c.name for c in COLLECTIONS if not c.singleton and c.name != "sources"]


async def test_every_citation_points_at_its_quote(client):
    texts = {
        source["id"]: (await client.get(f"/api/v1/sources/{source['id']}")).json()["text"]
        for source in await get_items(client, "/api/v1/sources")
    }
    entities = [(await client.get("/api/v1/mechanism")).json()]
    for collection in LISTED:
        entities += await get_items(client, f"/api/v1/{collection}?limit=500")
    assert all(source["sources"] == [] for source in await get_items(client, "/api/v1/sources"))
    checked = 0
    for entity in entities:
        assert entity["sources"], f"{entity['id']} cites nothing"
        for citation in entity["sources"]:
            text = texts[citation["source"]]
            if text is None:
                assert citation["quote"] is citation["start"] is citation["end"] is None
            else:
                assert text[citation["start"] : citation["end"]] == citation["quote"]
                checked += 1
    assert checked >= 40


async def test_the_article_is_stored_whole(client):
    article = (await client.get("/api/v1/sources/article")).json()
    assert article["type"] == "article"
    assert article["text"].startswith("Chinese President Xi Jinping attended")
    assert article["text"].endswith("up by 116 percent compared with 2013.")
    assert article["text_length"] == len(article["text"]) == 2463
