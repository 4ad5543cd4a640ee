"""The Frictionless Data Package: one resource per collection, whose Table Schema says what the
CSV export holds, checked against the exports themselves, values and references included."""

import csv
import io
import json
import re
from urllib.parse import urljoin

import frictionless
import pytest

from app.data.registry import COLLECTIONS
from tests.conftest import SEED_VERSION

pytestmark = pytest.mark.anyio

PACKAGE = "/api/v1/datapackage.json"


async def _tables(client, package: dict) -> dict[str, list[dict[str, str]]]:
    tables = {}
    for resource in package["resources"]:
        url = urljoin(PACKAGE, resource["path"])
        text = (await client.get(url)).text
        tables[resource["name"]] = list(csv.DictReader(io.StringIO(text)))
    return tables


async def test_one_resource_per_collection_at_its_export(client):
    answer = await client.get(PACKAGE)
    package = answer.json()
    assert answer.status_code == 200 and "etag" in answer.headers
    assert package["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    assert [r["name"] for r in package["resources"]] == [c.name for c in COLLECTIONS]
    for resource in package["resources"]:
        assert urljoin(PACKAGE, resource["path"]) == f"/api/v1/export/{resource['name']}"
        assert (resource["format"], resource["mediatype"]) == ("csv", "text/csv")
        header = (await client.get(urljoin(PACKAGE, resource["path"]))).text.split("\r\n")[0]
        names = [field["name"] for field in resource["schema"]["fields"]]
        assert ",".join(names) == header, resource["name"]
        assert resource["schema"]["primaryKey"] == ["id"]


async def test_every_value_fits_its_declared_type(client):
    package = (await client.get(PACKAGE)).json()
    tables = await _tables(client, package)
    checks = {
        "integer": lambda v: re.fullmatch(r"-?\d+", v),
        "number": lambda v: re.fullmatch(r"-?\d+(\.\d+)?", v),
        "boolean": lambda v: v in ("true", "false"),
        "date": lambda v: re.fullmatch(r"\d{4}-\d{2}-\d{2}", v),
        "list": lambda v: all(part and part == part.strip() for part in v.split("; ")),
        "object": lambda v: isinstance(json.loads(v), dict),
        "string": lambda v: True,
    }
    types = set()
    for resource in package["resources"]:
        rows = tables[resource["name"]]
        assert len({row["id"] for row in rows}) == len(rows)  # the primary key is one
        for field in resource["schema"]["fields"]:
            types.add(field["type"])
            for row in rows:
                value = row[field["name"]]
                assert value == "" or checks[field["type"]](value), (resource["name"], field, value)
    assert types == set(checks)  # every type is declared somewhere, so each check ran


async def test_every_foreign_key_names_what_exists(client):
    package = (await client.get(PACKAGE)).json()
    tables = await _tables(client, package)
    checked = 0
    for resource in package["resources"]:
        for key in resource["schema"].get("foreignKeys", []):
            (field,) = key["fields"]
            target = key["reference"].get("resource", resource["name"])
            (target_field,) = key["reference"]["fields"]
            known = {row[target_field] for row in tables[target]}
            for row in tables[resource["name"]]:
                if row[field]:
                    assert row[field] in known, (resource["name"], field, row[field])
                    checked += 1
    assert checked > 30
    trade = next(r for r in package["resources"] if r["name"] == "trade-statistics")
    assert {"fields": ["equivalent_of"], "reference": {"fields": ["id"]}} in trade["schema"][
        "foreignKeys"
    ]


async def test_frictionless_finds_the_package_and_its_csvs_valid(client, tmp_path):
    """The `frictionless` validator, on the package and the CSVs it points to, written out as
    the relative paths it names: types, primary keys and foreign keys all checked."""
    package = (await client.get(PACKAGE)).json()
    (tmp_path / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
    for resource in package["resources"]:
        target = tmp_path / resource["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((await client.get(urljoin(PACKAGE, resource["path"]))).content)
    report = frictionless.validate(tmp_path / "datapackage.json")
    assert report.valid, report.flatten(["resourceName", "rowNumber", "fieldName", "message"])
    assert len(report.tasks) == len(COLLECTIONS)
    assert sum(task.stats["rows"] for task in report.tasks) == SEED_VERSION  # every record
