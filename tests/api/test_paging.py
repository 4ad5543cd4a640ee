"""Paging by cursor: every list, walked by its `Link` header in both directions and every sort,
gives the same rows in the same order as one page of it, and bad cursors are clear 400s."""

import csv
import io
import itertools
import re

import pytest
from sqlmodel import Session

from app.api.parameters import MAX_OFFSET
from app.data.reads import entity_batches, list_page
from app.data.registry import COLLECTIONS
from tests.conftest import assert_problem

pytestmark = pytest.mark.anyio

LISTS = [c for c in COLLECTIONS if not c.singleton]


def links(response) -> dict[str, str]:
    found = re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["link"])
    return {rel: url for url, rel in found}


def ordered(values: list) -> bool:
    """Non-decreasing, NULL before everything (as both databases are told to sort)."""
    keys = [(value is not None, value) for value in values]
    return all(a <= b for a, b in itertools.pairwise(keys))


async def walk(client, url: str, rel: str) -> tuple[list[str], list[int]]:
    """The ids met following `rel` links from `url`, and each page's `offset`."""
    ids: list[str] = []
    offsets: list[int] = []
    while url:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        page = [item["id"] for item in body["items"]]
        ids = ids + page if rel == "next" else page + ids
        offsets.append(body["offset"])
        url = links(response).get(rel)
        assert len(offsets) < 200, "the walk does not end"
    return ids, offsets


@pytest.mark.parametrize("collection", LISTS, ids=lambda c: c.name)
async def test_walking_every_sort_both_ways_meets_every_row_once_in_order(client, collection):
    path = f"/api/v1/{collection.name}"
    for field in collection.sortable:
        for sort in (field, f"-{field}"):
            whole = (await client.get(f"{path}?sort={sort}&limit=500")).json()
            expected = [item["id"] for item in whole["items"]]
            values = [item[field] for item in whole["items"]]
            assert ordered(values[::-1] if sort.startswith("-") else values), (sort, values)

            forward, offsets = await walk(client, f"{path}?sort={sort}&limit=2", "next")
            assert forward == expected, sort
            assert offsets == list(range(0, max(len(expected), 1), 2)), sort

            last_url = links(await client.get(f"{path}?sort={sort}&limit=2"))["last"]
            backward, _ = await walk(client, last_url, "prev")
            assert backward == expected, sort


async def test_a_cursor_page_says_where_it_is_and_keeps_the_filters(client):
    first = await client.get("/api/v1/countries?region=central-asia&limit=2")
    assert first.json()["total"] == 5
    second = await client.get(links(first)["next"])
    body = second.json()
    assert (body["offset"], body["total"], [c["id"] for c in body["items"]]) == (
        2,
        5,
        ["TJK", "TKM"],
    )
    assert "region=central-asia" in links(second)["next"]
    last = await client.get(links(second)["last"])
    assert [c["id"] for c in last.json()["items"]] == ["TKM", "UZB"]
    assert last.json()["offset"] == 3
    assert "next" not in links(last)


async def test_a_cursor_carries_over_to_csv(client):
    first = await client.get("/api/v1/countries?limit=4&format=csv")
    second = await client.get(links(first)["next"])
    assert second.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(second.text)))
    assert [row["id"] for row in rows] == ["TKM", "UZB"]


@pytest.mark.parametrize(
    ("query", "parameter", "detail"),
    [
        ("cursor=not-a-cursor!", "cursor", "should match pattern"),
        ("cursor=not-a-cursor", "cursor", "not a cursor this API made"),
        ("cursor=" + "A" * 3000, "cursor", "at most 2048 characters"),
        ("cursor=eyJkIjoic2lkZXdheXMiLCJzIjoiaWQiLCJrIjpbXSwicCI6MH0", "cursor", "not a cursor"),
        (f"offset={MAX_OFFSET + 1}", "offset", "less than or equal to 10000"),
    ],
)
async def test_bad_cursors_and_deep_offsets_are_400s_naming_the_parameter(
    client, query, parameter, detail
):
    response = await client.get(f"/api/v1/countries?{query}")
    body = assert_problem(response, 400)
    assert parameter in body["detail"] and detail in body["detail"], body


async def test_a_cursor_is_refused_for_another_sort_or_with_an_offset(client):
    next_url = links(await client.get("/api/v1/countries?limit=2&sort=name"))["next"]
    cursor = next_url.split("cursor=")[1]
    other_sort = await client.get(f"/api/v1/countries?sort=capital&cursor={cursor}")
    body = assert_problem(other_sort, 400)
    assert "sorted by 'name,id', not 'capital,id'" in body["detail"]
    both = await client.get(f"/api/v1/countries?sort=name&offset=2&cursor={cursor}")
    assert "offset or cursor, not both" in assert_problem(both, 400)["detail"]


@pytest.mark.parametrize("collection", LISTS, ids=lambda c: c.name)
async def test_the_csv_export_streams_every_row_in_the_default_order(client, collection):
    listed = (await client.get(f"/api/v1/{collection.name}?limit=500&fields=id")).json()
    response = await client.get(f"/api/v1/export/{collection.name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][0] == "id" and len(rows[0]) == len(collection.public.model_fields)
    assert [row[0] for row in rows[1:]] == [item["id"] for item in listed["items"]]


def test_export_batches_are_keyset_pages_that_meet_every_row_once(engine):
    for collection in LISTS:
        with Session(engine) as session:
            whole, total = list_page(session, collection, filters={})
            batched = [
                e for batch in entity_batches(session, collection, batch_size=2) for e in batch
            ]
        assert [e["id"] for e in batched] == [e["id"] for e in whole], collection.name
        assert len(batched) == total
