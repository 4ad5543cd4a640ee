"""Every value says what supports it: the coverage rule over the served dataset, the corrections
it brought, attributions, the text around each quote, and the annotations of the article."""

import re

import pytest

from app.data.registry import COLLECTIONS

pytestmark = pytest.mark.anyio

# The contract's fields that need no support: the id, links, provenance itself and free text.
EXEMPT = {"id", "url", "sources", "derivations", "description", "notes"}
# Fields of detail views that embed other entities (each checked as an entity of its own).
EMBEDS = {
    "countries": {"hosted_summits": "summits", "agreements": "agreements"},
    "summits": {
        "agreements": "agreements",
        "cooperation_centers": "cooperation-centers",
        "priority_areas": "priority-areas",
        "principles": "principles",
        "commitments": "commitments",
    },
}
CITED = [c.name for c in COLLECTIONS if c.name != "sources"]
WANG, XI = "wang-yi", "xi-jinping"


def unsupported(collection: str, entity: dict) -> list[str]:
    """The valued fields of `entity` that no citation or derivation names (embeds checked
    recursively, under their own collection)."""
    supported = {name for s in entity["sources"] + entity["derivations"] for name in s["fields"]}
    missing = []
    for name, value in entity.items():
        if name in EMBEDS.get(collection, {}):
            for item in value:
                missing += [
                    f"{name}/{item['id']}/{m}" for m in unsupported(EMBEDS[collection][name], item)
                ]
        elif name not in EXEMPT and value not in (None, [], "", {}) and name not in supported:
            missing.append(name)
    return missing


async def served_entities(client) -> list[tuple[str, dict]]:
    """Every cited entity as the export, every list and every detail view serve it."""
    served: list[tuple[str, dict]] = []
    export = (await client.get("/api/v1/export")).json()
    for name in CITED:
        served += [(name, record) for record in export[name]]
        if name == "mechanism":
            detail = (await client.get("/api/v1/mechanism")).json()
            served.append((name, detail))
            continue
        items = (await client.get(f"/api/v1/{name}?limit=500")).json()["items"]
        served += [(name, item) for item in items]
        for item in items:
            key = item["number"] if name == "summits" else item["id"]
            served.append((name, (await client.get(f"/api/v1/{name}/{key}")).json()))
    return served


async def test_every_served_value_is_supported_by_a_citation_or_derivation(client):
    served = await served_entities(client)
    # 34 entities, each in the export, its list and its detail (the mechanism has no list)
    assert len(served) == 3 * 34 - 1
    problems = {f"{name}/{e['id']}": unsupported(name, e) for name, e in served}
    assert {where: fields for where, fields in problems.items() if fields} == {}
    for name, entity in served:
        for support in entity["sources"] + entity["derivations"]:
            assert support["fields"], (name, entity["id"], support)
        for derivation in entity["derivations"]:
            assert derivation["basis"] in {"derived", "inferred"} and derivation["note"]


async def get(client, path: str) -> dict:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def citing(entity: dict, field: str) -> list[dict]:
    return [c for c in entity["sources"] if field in c["fields"]]


def derived(entity: dict, field: str) -> list[dict]:
    return [d for d in entity["derivations"] if field in d["fields"]]


async def test_the_dollar_figure_is_the_yuan_total_restated_and_no_more(client):
    cny = await get(client, "/api/v1/trade-statistics/china-central-asia-trade-2024-cny")
    usd = await get(client, "/api/v1/trade-statistics/china-central-asia-trade-2024-usd")
    assert (cny["record_high"], cny["change_percent"], cny["change_base_year"]) == (True, 116, 2013)
    assert cny["equivalent_of"] is None
    assert (usd["value"], usd["currency"], usd["equivalent_of"]) == (
        96_300_000_000,
        "USD",
        cny["id"],
    )
    assert (usd["record_high"], usd["change_percent"], usd["change_base_year"]) == (
        None,
        None,
        None,
    )
    # The bracket that makes it the same total is what supports the equivalence.
    assert [c["quote"] for c in citing(usd, "equivalent_of")] == [
        "Trade between China and Central Asian countries hit a record high of 674.15 billion"
        " yuan (US$96.3b) in 2024"
    ]
    for name in ("record_high", "change_percent", "change_base_year"):
        assert citing(usd, name) == [] and derived(usd, name) == []
        assert "up by 116 percent" in citing(cny, name)[0]["quote"]


async def test_the_timeline_shows_the_record_high_once(client):
    events = (await get(client, "/api/v1/timeline?type=trade-statistics"))["items"]
    assert [(e["id"], e["title"]) for e in events] == [
        (
            "china-central-asia-trade-2024-cny",
            "Record high: China–Central Asia trade 2024: 674.15 billion yuan",
        )
    ]


async def test_the_treatys_signatories_are_an_inference_that_quotes_why(client):
    treaty = await get(
        client,
        "/api/v1/agreements/treaty-on-eternal-good-neighborliness-friendship-and-cooperation",
    )
    assert citing(treaty, "signatories") == []
    (inference,) = derived(treaty, "signatories")
    assert inference["basis"] == "inferred"
    assert "“witnessed the signing”" in inference["note"]


async def test_the_action_plans_signatories_are_wangs_words(client):
    plan = await get(
        client, "/api/v1/agreements/action-plan-for-high-quality-belt-and-road-cooperation"
    )
    (citation,) = citing(plan, "signatories")
    assert citation["said_by"] == WANG
    assert citation["quote"].endswith("with all countries in a neighboring region as a whole")
    # Which documents and which region are read from context, and labelled so.
    assert [d["basis"] for d in derived(plan, "signatories")] == ["inferred"]


def speakers(text: str) -> list[tuple[int, int, str | None]]:
    """Who the article attributes each stretch of its text to, read off its sentences: Wang Yi's
    reported speech (after "said", "revealed", and the sentence "…, Wang said, noting that …"),
    inside it the name "what President Xi called" the Spirit, and the article's own voice."""
    spans = []
    wang_spirit = text.index("said the second summit highlighted")
    xi = text.index("what President Xi called")
    xi_end = text.index("which signifies four aspects")
    spirit_end = text.index("through thick and thin.") + len("through thick and thin")
    spans += [(wang_spirit, xi, WANG), (xi, xi_end, XI), (xi_end, spirit_end, WANG)]
    outcomes = text.index("More than 100 cooperation outcomes")
    spans.append((outcomes, text.index("more tangible outcomes.") + 22, WANG))
    signing = text.index("The heads of the six countries witnessed")
    spans.append((signing, text.index("as a whole.") + 10, WANG))
    return spans


async def test_attributed_claims_name_who_made_them_and_the_articles_own_name_nobody(client):
    text = (await get(client, "/api/v1/sources/article"))["text"]
    spans = speakers(text)
    annotations = await all_annotations(client, "article")
    for a in annotations:
        within = [who for start, end, who in spans if start <= a["start"] and a["end"] <= end]
        overlaps = [who for start, end, who in spans if a["start"] < end and start < a["end"]]
        assert overlaps == within, f"{a['quote']!r} straddles two voices"
        expected = within[0] if within else None
        assert a["said_by"] == expected, (a["type"], a["id"], a["quote"])
    attributed = {(a["type"], a["id"]) for a in annotations if a["said_by"] is not None}
    assert len(attributed) == 2 + 1 + 1 + 6 + 4  # agreements, two commitments, areas, principles
    assert ("trade-statistics", "china-central-asia-trade-2024-cny") not in attributed
    principle = await get(client, "/api/v1/principles/mutual-trust-and-support")
    assert [c["said_by"] for c in citing(principle, "spirit")] == [XI]
    assert {c["said_by"] for c in citing(principle, "name")} == {WANG}


async def test_the_second_summits_year_is_a_stated_derivation(client):
    summit = await get(client, "/api/v1/summits/2")
    assert summit["start_date"] == summit["end_date"] == "2025-06-17"
    (year,) = derived(summit, "start_date")
    assert year["basis"] == "derived" and year["fields"] == ["start_date", "end_date"]
    assert "without a year" in year["note"]
    assert citing(summit, "start_date")[0]["quote"].endswith("on June 17")
    first = await get(client, "/api/v1/summits/1")
    assert derived(first, "start_date") == []


async def test_reference_sources_say_what_they_support(client):
    expected = {
        "iso-3166-1": ["id", "iso2", "iso_numeric"],
        "un-m49": ["iso_numeric", "region"],
        "world-factbook": ["capital"],
        "iso-4217": ["currency"],
        "xian-declaration": ["participants"],
    }
    seen: set[str] = set()
    for name in ("countries", "summits", "trade-statistics"):
        for item in (await get(client, f"/api/v1/{name}"))["items"]:
            for citation in item["sources"]:
                if citation["source"] in expected:
                    assert citation["fields"] == expected[citation["source"]], (
                        item["id"],
                        citation,
                    )
                    assert citation["prefix"] is citation["suffix"] is citation["quote"] is None
                    seen.add(citation["source"])
    assert seen == set(expected)
    first = await get(client, "/api/v1/summits/1")
    assert [c["source"] for c in citing(first, "participants")] == ["xian-declaration"]


async def all_annotations(client, source: str) -> list[dict]:
    page = await get(client, f"/api/v1/sources/{source}/annotations?limit=500")
    assert page["total"] == len(page["items"])
    return page["items"]


async def test_prefix_and_suffix_are_the_text_around_every_quote(client):
    text = (await get(client, "/api/v1/sources/article"))["text"]
    export = await get(client, "/api/v1/export")
    citations = [c for n in CITED for r in export[n] for c in r["sources"] if c["quote"]]
    citations += await all_annotations(client, "article")
    assert len(citations) > 100
    for c in citations:
        assert text[c["start"] : c["end"]] == c["quote"]
        assert c["prefix"] == text[max(c["start"] - 32, 0) : c["start"]]
        assert c["suffix"] == text[c["end"] : c["end"] + 32]
    assert {len(c["prefix"]) for c in citations} >= {0, 32}  # the start of the text, and past it


def sentences(text: str) -> list[tuple[int, int]]:
    """The spans of the article's sentences: each ends with a full stop (maybe inside a closing
    quotation mark) before a space, a line break or the end."""
    ends = [m.end() for m in re.finditer(r"\.”?(?=\s|$)", text)]
    starts = [0] + [len(text) - len(text[e:].lstrip()) for e in ends[:-1]]
    return list(zip(starts, ends, strict=True))


async def test_every_sentence_of_the_article_is_cited_and_nothing_but_and_is_left_out(client):
    text = (await get(client, "/api/v1/sources/article"))["text"]
    annotations = await all_annotations(client, "article")
    assert [a["start"] for a in annotations] == sorted(a["start"] for a in annotations)
    spans = sentences(text)
    assert len(spans) == 10
    for start, end in spans:
        inside = [a for a in annotations if start <= a["start"] and a["end"] <= end]
        assert inside, f"nothing cites {text[start:end]!r}"
    covered = [False] * len(text)
    for a in annotations:
        covered[a["start"] : a["end"]] = [True] * (a["end"] - a["start"])
    left_out = "".join(ch if not c else "|" for ch, c in zip(text, covered, strict=True))
    assert set(re.findall(r"\w+", left_out)) == {"and"}, left_out
    for phrase in (
        "to strive for more tangible outcomes",
        "Wang said",
        "noting that",
        "Wang revealed",
    ):
        at = text.index(phrase)
        assert any(a["start"] <= at and at + len(phrase) <= a["end"] for a in annotations), phrase


async def test_annotations_name_the_entity_and_fields_each_passage_supports(client):
    annotations = await all_annotations(client, "article")
    export = await get(client, "/api/v1/export")
    article_citations = [
        (name, record["id"], c["start"], c["fields"], c["said_by"])
        for name in CITED
        for record in export[name]
        for c in record["sources"]
        if c["source"] == "article"
    ]
    assert sorted(
        (a["type"], a["id"], a["start"], a["fields"], a["said_by"]) for a in annotations
    ) == sorted(article_citations)
    centers = [a for a in annotations if a["type"] == "cooperation-centers"]
    assert {a["url"] for a in centers} == {
        "/api/v1/cooperation-centers/poverty-reduction",
        "/api/v1/cooperation-centers/education-exchange",
        "/api/v1/cooperation-centers/desertification-prevention-and-control",
    }
    assert {a["url"] for a in annotations if a["type"] == "summits"} == {
        "/api/v1/summits/1",
        "/api/v1/summits/2",
    }
    for url in {a["url"] for a in annotations}:
        assert (await client.get(url)).status_code == 200, url


async def test_annotations_of_a_reference_source_and_of_nothing(client):
    iso = await all_annotations(client, "iso-3166-1")
    assert [(a["type"], a["id"]) for a in iso] == [
        ("countries", code) for code in ("CHN", "KAZ", "KGZ", "TJK", "TKM", "UZB")
    ]
    assert all(a["start"] is a["quote"] is a["prefix"] is None for a in iso)
    everything = await all_annotations(client, "article")
    page = await get(client, "/api/v1/sources/article/annotations?limit=2&offset=2&fields=id,start")
    assert page["items"] == [{"id": a["id"], "start": a["start"]} for a in everything[2:4]]
    assert (page["total"], page["offset"]) == (len(everything), 2)
    missing = await client.get("/api/v1/sources/no-such-source/annotations")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No source 'no-such-source'."
