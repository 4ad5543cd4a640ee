"""GET /metrics: Prometheus text with requests per route and status, latency, dataset version."""

import pytest
from opentelemetry import trace

from app.config import Settings
from app.main import create_app
from tests.conftest import SEED_VERSION, app_client

pytestmark = pytest.mark.anyio


async def test_metrics_count_requests_by_route_template_and_status(client):
    await client.get("/api/v1/summits/2")
    await client.get("/api/v1/summits/1")
    await client.get("/api/v1/summits/9")
    await client.get("/no/such/path")
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    assert (
        'http_requests_total{method="GET",route="/api/v1/summits/{number}",status="200"} 2.0'
        in text
    )
    assert (
        'http_requests_total{method="GET",route="/api/v1/summits/{number}",status="404"} 1.0'
        in text
    )
    assert 'http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert (
        'http_request_duration_seconds_count{method="GET",route="/api/v1/summits/{number}"} 3.0'
        in text
    )
    assert f"dataset_version {SEED_VERSION}.0" in text


@pytest.mark.parametrize("enabled", [False, True], ids=["default", "OPENTELEMETRY=1"])
async def test_fastapis_opentelemetry_looks_for_a_provider_only_when_switched_on(
    database_url, monkeypatch, enabled
):
    looked_up: list[bool] = []
    provider = trace.get_tracer_provider

    def counted_provider():  # type: ignore[no-untyped-def]
        looked_up.append(True)
        return provider()

    monkeypatch.setattr(trace, "get_tracer_provider", counted_provider)
    app = create_app(Settings(database_url=database_url, opentelemetry=enabled))
    async with app_client(app) as client:
        answer = await client.get("/api/v1/countries")
    assert answer.status_code == 200
    assert bool(looked_up) is enabled


async def test_cached_answers_are_counted_in_the_metrics(client):
    for _ in range(3):
        await client.get("/api/v1/summits/2")
    etag = (await client.get("/api/v1/summits/2")).headers["etag"]
    await client.get("/api/v1/summits/2", headers={"If-None-Match": etag})
    text = (await client.get("/metrics")).text
    route = 'method="GET",route="/api/v1/summits/{number}"'
    assert f'http_requests_total{{{route},status="200"}} 4.0' in text
    assert f'http_requests_total{{{route},status="304"}} 1.0' in text
