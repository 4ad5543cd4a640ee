"""The server's own ceiling: a bare ASGI app under the same uvicorn, answering the six countries
as bytes encoded once at start-up, with no framework, no routing and no database."""

import json
from pathlib import Path
from typing import Any

SEED_FILE = Path(__file__).resolve().parent.parent / "seed" / "data.json"
FIELDS = ("id", "iso2", "iso_numeric", "name", "capital", "region")
BODY = json.dumps(
    [{f: c[f] for f in FIELDS} for c in json.loads(SEED_FILE.read_text())["countries"]]
).encode()
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))],
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":  # lifespan: nothing to start or stop
        return
    await send(START)
    await send({"type": "http.response.body", "body": BODY})
