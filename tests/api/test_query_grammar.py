"""The query grammar of every list (API.md, "Query grammar"): conditions on any field with
an operator, and facet counts, checked against the whole list filtered and counted in Python."""

import csv
import io
import re
from collections import Counter
from typing import Any

import pytest

from app.data.conditions import FACET_SIZE, queryable_fields
from app.data.registry import COLLECTIONS
from tests.conftest import assert_problem

pytestmark = pytest.mark.anyio

LISTS = [c for c in COLLECTIONS if not c.singleton]


async def everything(client, name: str) -> list[dict[str, Any]]:
    body = (await client.get(f"/api/v1/{name}?limit=500")).json()
    assert body["total"] == len(body["items"])
    return body["items"]


def holds(value: Any, operator: str, wanted: Any) -> bool:
    """The contract's meaning of each operator, as Python says it."""
    if operator == "has":
        return wanted in value
    if operator == "ne":
        return value != wanted  # a null is not equal to the value either
    if value is None:
        return False
    if operator == "contains":
        return wanted.lower() in value.lower()
    if operator == "in":
        return value in wanted
    comparisons = {
        "eq": value == wanted,
        "gt": value > wanted,
        "gte": value >= wanted,
        "lt": value < wanted,
        "lte": value <= wanted,
    }
    return comparisons[operator]


def as_parameter(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Text ranges compare by the database's collation: checked on codes, which sort alike in
# every collation (upper-case letters, digits), not on names with spaces and hyphens.
TEXT_RANGES = {("countries", "id"), ("countries", "iso_numeric"), ("trade-statistics", "reporter")}


def operators_of(collection) -> list[tuple[str, str]]:
    """Each (field, operator) of a collection's list, but text ranges on free text."""
    found = []
    for field in queryable_fields(collection).values():
        for operator in ("eq", *field.operators):
            if field.listed and operator == "eq":
                continue
            ranges = operator in ("gt", "gte", "lt", "lte")
            if ranges and field.kind == "text" and (collection.name, field.name) not in TEXT_RANGES:
                continue
            found.append((field.name, operator))
    return found


def condition_on(items: list[dict[str, Any]], field: str, operator: str) -> tuple[str, Any] | None:
    """A value of the field from the data for the operator, as a parameter and as Python."""
    present = sorted((i[field] for i in items if i[field] not in (None, [])), key=str)
    if not present:
        return None
    sample = present[len(present) // 2]
    if operator == "has":
        return sample[0], sample[0]
    if operator == "contains":
        part = str(sample)[1:4].upper()  # a middle part, in the other case
        return part, part
    if operator == "in":
        chosen = [sample, present[0]]
        quoted = [f'"{v}"' if "," in str(v) else as_parameter(v) for v in chosen]
        return ",".join(quoted), chosen
    return as_parameter(sample), sample


@pytest.mark.parametrize("collection", LISTS, ids=[c.name for c in LISTS])
async def test_every_operator_on_every_field_selects_what_it_says(client, collection):
    items = await everything(client, collection.name)
    checked = 0
    for field, operator in operators_of(collection):
        condition = condition_on(items, field, operator)
        if condition is None:  # no item states the field: nothing to compare with
            continue
        parameter, wanted = condition
        query = field if operator == "eq" else f"{field}__{operator}"
        response = await client.get(
            f"/api/v1/{collection.name}", params={query: parameter, "limit": 500}
        )
        assert response.status_code == 200, response.text
        expected = {item["id"] for item in items if holds(item[field], operator, wanted)}
        found = {item["id"] for item in response.json()["items"]}
        assert found == expected, f"{query}={parameter}"
        assert response.json()["total"] == len(expected)
        checked += 1
    assert checked >= len(operators_of(collection)) // 2  # most fields are stated somewhere


async def test_conditions_combine_with_and_and_with_the_collection_filters(client):
    body = (
        await client.get("/api/v1/trade-statistics?currency=usd&year__gte=2024&value__gt=1&limit=5")
    ).json()
    assert [s["id"] for s in body["items"]] == ["china-central-asia-trade-2024-usd"]
    body = (await client.get("/api/v1/summits?host=kz&number__ne=2")).json()
    assert body["total"] == 0  # the one summit in Kazakhstan is the second


async def test_a_condition_pages_by_cursor_and_keeps_its_sort(client):
    items = await everything(client, "commitments")
    expected = sorted(
        (c for c in items if c["summit"] == 2 and c["kind"] != "designation"),
        key=lambda c: c["title"],
        reverse=True,
    )
    assert len(expected) > 3
    seen: list[str] = []
    url = "/api/v1/commitments?summit__gte=2&kind__ne=designation&sort=-title&limit=2&fields=id"
    while url:
        response = await client.get(url)
        body = response.json()
        assert body["total"] == len(expected)
        assert all(set(item) == {"id"} for item in body["items"])
        seen += [item["id"] for item in body["items"]]
        found = re.search(r'<([^>]+)>; rel="next"', response.headers["link"])
        url = found[1] if found else ""
    assert seen == [c["id"] for c in expected]


async def test_facets_count_every_matching_item_largest_first(client):
    people = await everything(client, "people")
    response = await client.get("/api/v1/people?facet=country,roles&limit=1")
    facets = response.json()["facets"]
    assert len(response.json()["items"]) == 1  # the page is one item, the counts are not
    countries = Counter(p["country"] for p in people)
    assert {f["value"]: f["count"] for f in facets["country"]} == countries
    roles = Counter(role for p in people for role in p["roles"])  # each element counted
    assert {f["value"]: f["count"] for f in facets["roles"]} == roles
    counts = [f["count"] for f in facets["roles"]]
    assert counts == sorted(counts, reverse=True)


async def test_facets_count_the_filtered_set_and_lists_count_each_element(client):
    agreements = await everything(client, "agreements")
    chosen = [a for a in agreements if a["summit"] == 2]
    response = await client.get("/api/v1/agreements?summit=2&facet=signatories&facet=type")
    facets = response.json()["facets"]
    signatories = Counter(c for a in chosen for c in a["signatories"])
    assert {f["value"]: f["count"] for f in facets["signatories"]} == signatories
    assert sum(f["count"] for f in facets["type"]) == len(chosen)


async def test_a_facet_of_many_values_shows_the_largest_counts(client):
    body = (await client.get("/api/v1/commitments?facet=id&limit=1")).json()
    total = body["total"]
    assert len(body["facets"]["id"]) == min(total, FACET_SIZE)
    assert {f["count"] for f in body["facets"]["id"]} == {1}


async def test_no_facet_no_facets_member(client):
    assert "facets" not in (await client.get("/api/v1/countries")).json()


async def test_facets_in_csv_are_a_table_of_counts(client):
    response = await client.get("/api/v1/countries?facet=region&format=csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        ["facet", "value", "count"],
        ["region", "central-asia", "5"],
        ["region", "east-asia", "1"],
    ]


async def test_csv_rows_are_the_filtered_items(client):
    response = await client.get("/api/v1/countries?name__contains=stan&format=csv&fields=id")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [["id"], ["KAZ"], ["KGZ"], ["TJK"], ["TKM"], ["UZB"]]


@pytest.mark.parametrize(
    ("query", "parameter", "says"),
    [
        ("colour=red", "colour", "unknown parameter"),
        ("year__like=2024", "year__like", "unknown parameter"),
        ("partners__gt=KAZ", "partners__gt", "unknown parameter"),  # a list takes `has` only
        ("year__gte=twenty", "year__gte", "valid integer"),
        ("value__in=1,x", "value__in", "'x'"),
        ("record_high=perhaps", "record_high", "valid boolean"),
        ("flow__in=total,sideways", "flow__in", "'sideways'"),
        ("change_percent__lt=lots", "change_percent__lt", "valid number"),
        ("facet=colour", "facet", "colour"),
        ("year__lt=109198846792683225088", "year__lt", "less than or equal"),  # no overflow
        ("change_percent__gt=inf", "change_percent__gt", "finite number"),
        ("id__in=a%0Ab", "id__in", "comma-separated"),  # a line break out of quotes
    ],
)
async def test_a_bad_condition_is_a_400_naming_the_parameter(client, query, parameter, says):
    problem = assert_problem(await client.get(f"/api/v1/trade-statistics?{query}"), 400)
    assert problem["errors"][0]["parameter"] == parameter
    assert says in problem["errors"][0]["detail"]


async def test_a_date_condition_takes_a_date(client):
    problem = assert_problem(await client.get("/api/v1/summits?start_date__gt=2025-02-30"), 400)
    assert problem["errors"][0]["parameter"] == "start_date__gt"


async def test_every_condition_is_a_parameter_of_the_openapi_document(client):
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/trade-statistics"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    for name in ("value__gte", "currency__in", "reporter__contains", "partners__has", "flow"):
        assert name in parameters, name
    assert parameters["record_high__ne"]["schema"]["anyOf"][0]["type"] == "boolean"
    assert parameters["facet"]["schema"]["anyOf"][0]["type"] == "array"
    assert "partners" in parameters["facet"]["schema"]["anyOf"][0]["items"]["pattern"]
    assert "value__contains" not in parameters  # a number has no `contains`


async def test_the_collection_page_shows_facet_counts_that_filter(client):
    page = (await client.get("/trade-statistics", headers={"Accept": "text/html"})).text
    assert "<h2>currency</h2>" in page
    usd = '<a href="?currency=USD" rel="nofollow">USD</a> <span class="count">1</span>'
    assert usd in page
    filtered = await client.get(
        "/trade-statistics?currency=USD&facet=flow", headers={"Accept": "text/html"}
    )
    assert filtered.status_code == 200
    assert "<h2>flow</h2>" in filtered.text and "<h2>year</h2>" not in filtered.text
    assert "1–1 of 1" in filtered.text  # of the two figures, the one in USD
    assert "<code>currency=USD</code>" in filtered.text


async def test_a_page_takes_a_condition_on_a_list_field(client):
    page = await client.get(
        "/summits?participants__has=KAZ&number__gte=x", headers={"Accept": "text/html"}
    )
    assert page.status_code == 400  # the bad value, named as in the JSON
    assert "number__gte" in page.text and "valid integer" in page.text
    page = await client.get(
        "/people?roles__has=Foreign%20minister", headers={"Accept": "text/html"}
    )
    assert page.status_code == 200
    assert "wang-yi" in page.text and "xi-jinping" not in page.text


async def test_facets_are_the_same_on_every_page_a_cursor_reaches(client):
    url = "/api/v1/countries?limit=2&facet=region"
    first = (await client.get(url)).json()["facets"]
    assert {f["value"]: f["count"] for f in first["region"]} == {"central-asia": 5, "east-asia": 1}
    pages = 0
    while url:
        response = await client.get(url)
        assert response.json()["facets"] == first
        found = re.search(r'<([^>]+)>; rel="next"', response.headers["link"])
        url, pages = (found[1] if found else ""), pages + 1
    assert pages == 3


async def test_facets_put_the_largest_count_first_whatever_the_value(writer):
    for n in range(3):  # three people of Kazakhstan: more than China's two, later in order
        person = {
            "name": f"Facet Person {n}",
            "roles": ["witness"],
            "country": "KAZ",
            "derivations": [
                {"fields": ["name", "roles", "country"], "basis": "inferred", "note": "A test's."}
            ],
            "sources": [{"source": "iso-3166-1", "fields": ["country"]}],
        }
        assert (await writer.post("/api/v1/people", json=person)).status_code == 201
    facets = (await writer.get("/api/v1/people?facet=country")).json()["facets"]
    assert facets["country"] == [{"value": "KAZ", "count": 3}, {"value": "CHN", "count": 2}]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("/api/v1/summits?host_country=kz", {"second-summit"}),  # alpha-2, any case
        ("/api/v1/summits?participants__has=kz", {"first-summit", "second-summit"}),
        ("/api/v1/countries?id__in=kz,%20cn", {"KAZ", "CHN"}),  # a space after the comma
        ("/api/v1/trade-statistics?currency__in=usd", {"china-central-asia-trade-2024-usd"}),
        (
            "/api/v1/agreements?signatories__has=kaz",
            {
                "treaty-on-eternal-good-neighborliness-friendship-and-cooperation",
                "action-plan-for-high-quality-belt-and-road-cooperation",
            },
        ),
    ],
)
async def test_codes_in_conditions_are_taken_as_the_filters_take_them(client, query, expected):
    body = (await client.get(query)).json()
    assert {item["id"] for item in body["items"]} == expected


async def test_contains_ignores_case_in_every_script(writer):
    person = {
        "id": "erlan-test",
        "name": "Ерлан Тест",
        "roles": ["witness"],
        "sources": [{"source": "article", "quote": "witnessed the signing", "fields": ["roles"]}],
        "derivations": [{"fields": ["name"], "basis": "inferred", "note": "A test's."}],
    }
    assert (await writer.post("/api/v1/people", json=person)).status_code == 201
    for needle in ("ерлан", "ЕРЛАН", "Ерлан"):
        body = (await writer.get("/api/v1/people", params={"name__contains": needle})).json()
        assert [p["name"] for p in body["items"]] == ["Ерлан Тест"], needle


async def test_integer_conditions_stay_within_what_the_column_holds(client):
    problem = assert_problem(await client.get("/api/v1/summits?number__gt=2147483648"), 400)
    assert problem["errors"][0]["parameter"] == "number__gt"
    big = (await client.get(f"/api/v1/trade-statistics?value__lt={2**40}")).json()
    assert big["total"] == 2  # a 64-bit column takes a 64-bit value


async def test_a_partial_date_condition_takes_a_partial_date(client):
    problem = assert_problem(await client.get("/api/v1/commitments?start__lt=banana"), 400)
    assert problem["errors"][0]["parameter"] == "start__lt"
    body = (await client.get("/api/v1/commitments?start__gte=2025&fields=id,start")).json()
    assert body["items"] and all(c["start"] >= "2025" for c in body["items"])


async def test_in_is_documented_as_a_list_of_the_field_s_values(client):
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/trade-statistics"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    flows = parameters["flow__in"]
    assert (flows["style"], flows["explode"]) == ("form", False)
    assert flows["schema"] == {
        "type": "array",
        "items": {"enum": ["total", "export", "import"], "type": "string"},
    }
    assert parameters["value__in"]["schema"]["items"]["type"] == "integer"


async def test_the_page_links_keep_every_facet_and_drop_empty_fields(client):
    response = await client.get(
        "/summits?facet=participants&facet=province&year=&host=", headers={"Accept": "text/html"}
    )
    assert response.status_code == 200
    text = response.text.replace("&amp;", "&")
    assert "<h2>participants</h2>" in text and "<h2>province</h2>" in text
    sort_link = re.search(r'<a href="(\?[^"]*sort=number[^"]*)"', text)[1]
    assert "facet=participants" in sort_link and "facet=province" in sort_link
    alternate = re.search(r'<link rel="alternate" type="application/json" href="([^"]+)"', text)[1]
    assert "year=" not in alternate and "host=" not in alternate
    assert (await client.get(alternate)).status_code == 200
    csv_link = re.search(r'<a href="([^"]+)">This list as CSV', text)[1]
    assert "facet" not in csv_link  # the items, not the counts
    assert (await client.get(csv_link)).text.startswith("id,")
