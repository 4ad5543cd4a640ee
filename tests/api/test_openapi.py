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
    # Each of the 11 collections: its list (or singleton), detail and history, and 4 writes;
    # then 11 more: the index, the export, a collection's CSV, the data package, the feed, the
    # timeline, search, annotations, the audit trail and the two health checks.
    assert len(operation_ids) == len(set(operation_ids)) == 3 * 11 + 4 * 11 + 11


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
        ("/api/v1/export", "/api/v1/export"),
        ("/api/v1/datapackage.json", "/api/v1/datapackage.json"),
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


async def test_the_document_says_what_the_server_accepts_and_answers(client):
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            if path.startswith("/api/v1"):
                for status in ("429", "503"):
                    content = operation["responses"][status]["content"]
                    assert list(content) == ["application/problem+json"], where
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                schema = schemas[media["schema"]["$ref"].rsplit("/", 1)[1]]
                assert schema["additionalProperties"] is False, where  # closed, as the server is
    # A merge patch may leave out any field, and null only removes what may be null.
    patch = schemas["CountryInPatch"]
    assert "required" not in patch
    assert patch["properties"]["capital"] == {"type": "string", "title": "Capital"}
    search = next(
        p for p in document["paths"]["/api/v1/search"]["get"]["parameters"] if p["name"] == "q"
    )
    assert "pattern" not in search["schema"]  # checked by the server, in Unicode's sense


@pytest.mark.parametrize(
    ("q", "status"), [("!!!", 400), ("%C3%9D", 200), ("%E4%B8%AD%E5%9B%BD", 200)]
)
async def test_a_search_needs_a_letter_or_digit_of_any_script(client, q, status):
    answer = await client.get(f"/api/v1/search?q={q}")
    assert answer.status_code == status
    if status == 400:
        assert answer.json()["detail"] == "q: must hold a letter or a digit"
