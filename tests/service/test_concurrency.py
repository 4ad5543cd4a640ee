"""Under concurrency the service keeps answering: no pool exhaustion, no stall, no 500."""

import asyncio
from collections import Counter

import httpx
import pytest

from tests.server import running_server

pytestmark = pytest.mark.anyio

PATHS = [
    "/api/v1/countries",
    "/api/v1/summits/2",
    "/api/v1/agreements?signatory=kz",
    "/api/v1/search?q=trade",
    "/api/v1/timeline",
]


async def test_200_concurrent_requests_to_the_real_server_all_succeed(database_url):
    with running_server(database_url) as base_url:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.get(PATHS[i % len(PATHS)]) for i in range(200))
            )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == Counter({200: 200})
    countries = [r for r in responses if r.url.path == "/api/v1/countries"]
    assert all(r.json()["total"] == 6 for r in countries)
