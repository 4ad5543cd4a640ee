"""GET /metrics: Prometheus text with requests per route and status, latency, dataset version."""

import pytest

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
    assert "dataset_version 1.0" in text
