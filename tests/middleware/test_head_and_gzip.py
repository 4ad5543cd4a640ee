"""HEAD answers as GET without a body, from the cache too; gzip for bodies over a kilobyte."""

import json

import pytest

pytestmark = pytest.mark.anyio


async def test_head_answers_like_get_without_a_body(client):
    get = await client.get("/api/v1/summits/2")
    head = await client.head("/api/v1/summits/2")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["etag"] == get.headers["etag"]
    assert (await client.head("/api/v1/summits/9")).status_code == 404


async def test_head_is_answered_from_the_cache_without_a_body_and_not_kept(app):
    async def answer(method: str) -> tuple[int, dict[bytes, bytes], bytes]:
        """What the app itself sends: httpx would drop a HEAD's body however long."""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": "/api/v1/summits/2",
            "raw_path": b"/api/v1/summits/2",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"t")],
            "client": ("127.0.0.1", 1),
            "server": ("t", 80),
        }
        messages: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            messages.append(message)

        await app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in messages[1:])
        return messages[0]["status"], dict(messages[0]["headers"]), body

    status, head, body = await answer("HEAD")
    assert (status, body) == (200, b"")
    assert len(app.state.response_cache) == 0  # a HEAD's empty body is not kept for a GET
    status, get, get_body = await answer("GET")
    assert status == 200 and json.loads(get_body)["number"] == 2
    assert len(app.state.response_cache) == 1
    status, head_again, body = await answer("HEAD")
    assert (status, body) == (200, b"")  # from the cache, still without the body
    assert head_again[b"etag"] == get[b"etag"] == head[b"etag"]
    assert head_again[b"content-length"] == get[b"content-length"] == str(len(get_body)).encode()


async def test_gzip_over_a_kilobyte_only(client):
    big = await client.get("/api/v1/countries", headers={"Accept-Encoding": "gzip"})
    assert big.headers["content-encoding"] == "gzip"
    assert len(big.content) > 1024  # over a kilobyte: sent compressed
    assert int(big.headers["content-length"]) < len(big.content)
    small = await client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    plain = await client.get("/api/v1/countries", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.json() == big.json()
