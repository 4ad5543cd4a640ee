"""The bad-input battery against the real server: each request a 4xx problem+json naming what is
wrong, none taking more than a second (a bound on pathological work such as a parser recursing,
not a speed figure), and the dataset unchanged afterwards."""

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import API_KEYS, EDITOR_KEY, Databases
from tests.server import running_server

KEY = {"Authorization": f"Bearer {EDITOR_KEY}"}
JSON = {**KEY, "Content-Type": "application/json"}
DEEP_ARRAYS = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECTS = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
FORM = {**KEY, "Content-Type": "application/x-www-form-urlencoded"}
COMMITMENT = {"title": "x", "kind": "pledge", "description": "x", "summit": 2, "parties": ["CHN"]}

# (name, method, path, headers, body, status)
BATTERY = [
    ("JSON nested 10,000 deep", "POST", "/api/v1/commitments", JSON, DEEP_ARRAYS, 422),
    ("objects nested 10,000 deep", "POST", "/api/v1/commitments", JSON, DEEP_OBJECTS, 422),
    (
        "NUL in a string",
        "POST",
        "/api/v1/commitments",
        JSON,
        json.dumps({**COMMITMENT, "title": "a\x00b"}).encode(),
        422,
    ),
    (
        "NUL in a patch",
        "PATCH",
        "/api/v1/countries/CHN",
        JSON,
        json.dumps({"capital": "Bei\x00jing"}).encode(),
        422,
    ),
    ("NUL in an id", "GET", "/api/v1/countries/%00", {}, None, 404),
    (
        "a 400-digit number in a body",
        "PATCH",
        "/api/v1/commitments/training-opportunities",
        JSON,
        b'{"quantity": ' + b"9" * 400 + b"}",
        422,
    ),
    ("a 400-digit limit", "GET", "/api/v1/countries?limit=" + "9" * 400, {}, None, 400),
    ("a 400-digit summit number", "GET", "/api/v1/summits/" + "9" * 400, {}, None, 400),
    ("SQL in an id", "GET", "/api/v1/countries/'%20OR%201=1--", {}, None, 404),
    (
        "SQL in a filter",
        "GET",
        "/api/v1/trade-statistics?currency=%27;DROP%20TABLE%20country;--",
        {},
        None,
        400,
    ),
    ("SQL in a code filter", "GET", "/api/v1/summits?host=%27%20OR%201=1--", {}, None, 400),
    ("SQL in a sort", "GET", "/api/v1/countries?sort=name;DROP%20TABLE%20country", {}, None, 400),
    ("an 8 MB body", "POST", "/api/v1/commitments", JSON, b"x" * 8_000_000, 413),
    ("XML", "POST", "/api/v1/commitments", {**KEY, "Content-Type": "text/xml"}, b"<a/>", 415),
    ("a form", "POST", "/api/v1/commitments", FORM, b"a=1", 415),
    ("no content type", "PUT", "/api/v1/countries/CHN", KEY, b"{}", 415),
    ("invalid UTF-8", "POST", "/api/v1/commitments", JSON, b'{"title": "\xff\xfe"}', 422),
    ("a 10 KB query string", "GET", "/api/v1/countries?region=" + "x" * 10_000, {}, None, 414),
    ("a 5,000-character path", "GET", "/api/v1/countries/" + "x" * 5_000, {}, None, 400),
    ("limit=1e3", "GET", "/api/v1/countries?limit=1e3", {}, None, 400),
    (
        "300 names in fields",
        "GET",
        "/api/v1/countries?fields=" + ",".join(f"f{n}" for n in range(300)),
        {},
        None,
        400,
    ),
]


@pytest.fixture(scope="module")
def server(databases: Databases, template_database: str) -> Iterator[str]:
    with running_server(databases.copy(template_database), SUMMIT_API_KEYS=API_KEYS) as base:
        yield base


@pytest.fixture(scope="module")
def version_before(server: str) -> Iterator[str]:
    version = httpx.get(f"{server}/api/v1/countries").headers["x-dataset-version"]
    yield version
    after = httpx.get(f"{server}/api/v1/countries").headers["x-dataset-version"]
    assert after == version, "a refused request changed the data"


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [case[1:] for case in BATTERY],
    ids=[case[0] for case in BATTERY],
)
def test_bad_input_is_a_quick_4xx_problem(
    server, version_before, method, path, headers, body, status
):
    started = time.monotonic()
    answer = httpx.request(method, server + path, headers=headers, content=body, timeout=10)
    took = time.monotonic() - started
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status and problem["detail"]
    assert "Traceback" not in answer.text
    assert took < 1, f"{took:.2f} s"
