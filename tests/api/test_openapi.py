"""The OpenAPI document describes every operation fully, with examples from the real data."""

import pytest

pytestmark = pytest.mark.anyio


async def test_every_operation_is_named_summarised_tagged_and_exemplified(client):
    document = (await client.get("/openapi.json")).json()
    operation_ids = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            operation_ids.append(operation["operationId"])
            assert operation["summary"], where
            assert operation["tags"], where
            content = operation["responses"].get("200", {}).get("content", {})
            if method == "get" and path == "/api/v1/export/{collection}":
                assert list(content) == ["text/csv"], where  # the streamed CSV export only
            elif method == "get":
                ok = content["application/json"]
                if path.startswith("/api/v1") and path != "/api/v1/changes":
                    assert "example" in ok, where
            for status, response in operation["responses"].items():
                if status[0] in "4" or status == "500":
                    assert list(response["content"]) == ["application/problem+json"], where
            if "requestBody" not in operation:
                assert "422" not in operation["responses"], where  # query errors are 400
            assert "400" in operation["responses"], where
    assert len(operation_ids) == len(set(operation_ids)) == 30 + 4 * 11


async def test_examples_are_the_served_data(client):
    document = (await client.get("/openapi.json")).json()
    example = document["paths"]["/api/v1/summits/{number}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["example"]
    assert example == (await client.get("/api/v1/summits/1")).json()
    assert "ProblemDetails" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize(
    ("path", "served"),
    [
        ("/api/v1/timeline", "/api/v1/timeline?limit=1"),
        ("/api/v1/search", "/api/v1/search?q=Astana&limit=1"),
        ("/api/v1/sources/{id}/annotations", "/api/v1/sources/article/annotations?limit=1"),
    ],
)
async def test_dataset_examples_are_the_served_first_page(client, path, served):
    document = (await client.get("/openapi.json")).json()
    ok = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["example"] == (await client.get(served)).json()


async def test_csv_and_sparse_fieldsets_are_documented(client):
    document = (await client.get("/openapi.json")).json()
    listing = document["paths"]["/api/v1/countries"]["get"]
    assert "text/csv" in listing["responses"]["200"]["content"]
    parameters = {p["name"]: p for p in listing["parameters"]}
    assert parameters["sort"]["schema"]["pattern"].startswith("^-?(?:")
    assert "iso_numeric" in parameters["fields"]["schema"]["pattern"]
    # With `fields` any field may be absent, so the item schema requires none.
    assert "required" not in document["components"]["schemas"]["CountryPublic"]
    detail = document["paths"]["/api/v1/countries/{code}"]["get"]
    assert detail["parameters"][0]["example"] == "CHN"
