"""The API layer's pure helpers, on their own: content negotiation for CSV and the URLs of
entities."""

import pytest
from starlette.requests import Request

from app.api.rendering import wants_csv
from app.api.urls import url_of, with_url
from app.data.registry import BY_NAME


def request_accepting(accept: str | None) -> Request:
    headers = [] if accept is None else [(b"accept", accept.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


@pytest.mark.parametrize(
    ("accept", "csv"),
    [
        (None, False),
        ("*/*", False),  # curl's default: JSON
        ("text/csv", True),
        ("text/*", True),
        ("application/json, text/csv;q=0.5", False),
        ("text/csv;q=0.9, application/json;q=0.1", True),
        ("text/csv;q=oops", False),  # an unreadable weight counts for nothing
        ("TEXT/CSV", True),
    ],
)
def test_accept_decides_csv_by_quality(accept, csv):
    assert wants_csv(request_accepting(accept), None) is csv


def test_the_format_parameter_overrides_accept():
    assert wants_csv(request_accepting("text/csv"), "json") is False
    assert wants_csv(request_accepting("application/json"), "csv") is True


def test_urls_address_entities_by_their_key():
    assert url_of(BY_NAME["summits"], {"id": "second-summit", "number": 2}) == "/api/v1/summits/2"
    assert url_of(BY_NAME["mechanism"], {"id": "any"}) == "/api/v1/mechanism"
    assert with_url({"type": "countries", "id": "KAZ", "key": "KAZ"})["url"] == (
        "/api/v1/countries/KAZ"
    )
