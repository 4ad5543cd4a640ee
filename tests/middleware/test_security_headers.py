"""Security headers on every response, and docs pages that load nothing from another host."""

import pytest

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("path", ["/api/v1/countries", "/api/v1/nowhere", "/healthz"])
async def test_security_headers_on_every_response(client, path):
    response = await client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_docs_pages_load_nothing_from_elsewhere(client):
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assert "https://" not in html and "http://" not in html, page
        assert "/static-offline-docs/" in html
    script = await client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
