"""Every list also answers CSV: a header row, one row per item, lists joined in one cell."""

import csv
import io

import pytest

pytestmark = pytest.mark.anyio

LISTS = [
    "/api/v1/sources",
    "/api/v1/countries",
    "/api/v1/people",
    "/api/v1/summits",
    "/api/v1/agreements",
    "/api/v1/cooperation-centers",
    "/api/v1/trade-statistics",
    "/api/v1/priority-areas",
    "/api/v1/principles",
    "/api/v1/commitments",
    "/api/v1/timeline",
    "/api/v1/search?q=summit",
]


def rows(response) -> list[dict[str, str]]:
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text)))


@pytest.mark.parametrize("path", LISTS)
async def test_every_list_answers_csv_with_one_row_per_item(client, path):
    as_json = (await client.get(path)).json()
    separator = "&" if "?" in path else "?"
    as_csv = await client.get(f"{path}{separator}format=csv")
    table = rows(as_csv)
    assert len(table) == len(as_json["items"])
    assert list(table[0]) == list(as_json["items"][0])  # same columns, same order
    assert [row["id"] for row in table] == [item["id"] for item in as_json["items"]]


async def test_csv_by_accept_header_with_lists_and_citations_in_one_cell(client):
    response = await client.get("/api/v1/summits", headers={"Accept": "text/csv"})
    second = rows(response)[1]
    assert second["participants"] == "CHN; KAZ; KGZ; TJK; TKM; UZB"
    assert second["start_date"] == "2025-06-17"
    # One citation or derivation to a line, each saying what it supports and who said it.
    first_citation = second["sources"].splitlines()[0]
    assert first_citation.startswith('article[0:123] "Chinese President Xi Jinping attended')
    assert first_citation.endswith("(supports number, name, city, start_date, end_date, attendees)")
    assert (
        second["derivations"]
        .splitlines()[0]
        .startswith(
            "derived (start_date, end_date): The article dates the summit “June 17” without a year"
        )
    )
    outcomes = rows(await client.get("/api/v1/commitments?format=csv"))
    wang = next(row for row in outcomes if row["id"] == "cooperation-outcomes")["sources"]
    assert wang.endswith("(supports title, kind, quantity, quantity_qualifier), said by wang-yi")
    assert response.text.startswith("id,number,name,city,")
    assert "\r\n" in response.text


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("text/csv", "text/csv; charset=utf-8"),
        ("application/json, text/csv;q=0.5", "application/json"),
        ("text/csv;q=0.9, application/json;q=0.1", "text/csv; charset=utf-8"),
        ("*/*", "application/json"),
        ("text/*", "text/csv; charset=utf-8"),
    ],
)
async def test_accept_is_weighed_by_quality(client, accept, media_type):
    response = await client.get("/api/v1/countries", headers={"Accept": accept})
    assert response.headers["content-type"] == media_type


async def test_csv_honours_fields_filters_and_paging(client):
    response = await client.get(
        "/api/v1/trade-statistics?format=csv&fields=id,value,currency&sort=-value&limit=1"
    )
    assert rows(response) == [
        {"id": "china-central-asia-trade-2024-cny", "value": "674150000000", "currency": "CNY"}
    ]
    assert 'rel="next"' in response.headers["link"]


async def test_unknown_format_is_400(client):
    response = await client.get("/api/v1/countries?format=xml")
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "format"
