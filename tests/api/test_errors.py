"""Errors are RFC 9457 problem details everywhere, naming what is wrong; never a stack trace."""

from urllib.parse import unquote

import pytest

from tests.conftest import assert_problem

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("regoin=central-asia", "regoin"),
        ("region=antarctica", "region"),
        ("sort=population", "sort"),
        ("fields=id,population", "fields"),
        ("offset=100000000000000000000", "offset"),
        ("limit=100000000000000000000", "limit"),
    ],
)
async def test_bad_query_parameter_is_400_naming_it(client, query, parameter):
    problem = assert_problem(await client.get(f"/api/v1/countries?{query}"), 400)
    assert [e["parameter"] for e in problem["errors"]] == [parameter]
    assert parameter in problem["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/summits?year=twenty",
        "/api/v1/summits?host=K1",
        "/api/v1/agreements?summit=0",
        "/api/v1/agreements?summit=99999999999999999999",
        "/api/v1/trade-statistics?year_from=2030&year_to=2000",
        "/api/v1/search?q=astana&offset=100000000000000000000",
        "/api/v1/trade-statistics?currency=dollars",
        "/api/v1/search",
        "/api/v1/search?q=%20%2B%2B",
        "/api/v1/timeline?type=weather",
        "/api/v1/export?pretty=1",
        "/api/v1/summits/2?expand=all",
        "/healthz?verbose=1",
    ],
)
async def test_other_bad_queries_are_400(client, path):
    assert_problem(await client.get(path), 400)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/countries/XYZ",
        "/api/v1/countries/fr",
        "/api/v1/summits/3",
        "/api/v1/summits/third-summit",
        "/api/v1/summits/99999999999999999999",
        "/api/v1/summits/%EF%BC%92",  # a full-width digit two is not the number 2
        "/api/v1/summits/0",
        "/api/v1/agreements/no-such-agreement",
        "/api/v1/sources/wikipedia",
    ],
)
async def test_unknown_id_is_404(client, path):
    problem = assert_problem(await client.get(path), 404)
    assert unquote(path.rsplit("/", 1)[1]) in problem["detail"]


async def test_unknown_path_and_wrong_method(client):
    assert_problem(await client.get("/api/v1/galaxies"), 404)
    assert_problem(await client.get("/api/v1/countries/"), 404)  # no redirect echoing Host
    problem = assert_problem(await client.delete("/healthz"), 405)
    assert "DELETE" in problem["detail"]
