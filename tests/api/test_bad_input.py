"""Bad requests of every kind get the right 4xx as problem+json: never a 500, never a trace."""

import pytest

from tests.conftest import assert_problem

pytestmark = pytest.mark.anyio


async def test_repeated_parameter_is_400_naming_it(client):
    problem = assert_problem(await client.get("/api/v1/countries?limit=1&limit=2"), 400)
    assert problem["errors"] == [{"parameter": "limit", "detail": "given more than once"}]


async def test_huge_query_string_is_414(client):
    assert_problem(await client.get("/api/v1/countries?sort=" + "x" * 5000), 414)


async def test_huge_parameter_value_is_400(client):
    assert_problem(await client.get("/api/v1/search?q=" + "word " * 300), 400)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/countries/%FF%FE",
        "/api/v1/countries/%00",
        "/api/v1/summits/%F0%9F%8F%94",
        "/api/v1/people/%E7%8E%8B%E6%AF%85",
        "/api/v1/agreements/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/sources/" + "a" * 150,
    ],
)
async def test_garbage_or_unicode_ids_are_404(client, path):
    assert_problem(await client.get(path), 404)


async def test_overlong_id_is_400(client):
    assert_problem(await client.get("/api/v1/sources/" + "a" * 300), 400)


@pytest.mark.parametrize(
    "query",
    ["limit=%FF", "offset=1e3", "sort=%00", "region=%E2%80%8B", "fields=id%00", "limit=2.5"],
)
async def test_malformed_query_values_are_400(client, query):
    assert_problem(await client.get(f"/api/v1/countries?{query}"), 400)


async def test_wrong_method_is_405_with_allow(client):
    response = await client.request("PATCH", "/readyz")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET"


async def test_unknown_path_is_404(client):
    assert_problem(await client.get("/api/v2/countries"), 404)
    assert_problem(await client.get("/%FF"), 404)
