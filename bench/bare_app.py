"""The server's own ceiling: a bare ASGI app under the same uvicorn, answering bytes encoded once
at start-up, with no framework, no routing and no database.

By default it answers the six countries' plain fields (about 600 bytes, two headers). With
`BARE_ANSWER` naming a JSON file of `{"headers": [[name, value], ...], "body": "..."}` (the
benchmark writes one from the service's own cached answer), it answers exactly those bytes: the
ceiling for that answer, whose headers and body uvicorn and the socket must carry too.
"""

import json
import os
from pathlib import Path
from typing import Any

SEED_FILE = Path(__file__).resolve().parent.parent / "seed" / "data.json"
FIELDS = ("id", "iso2", "iso_numeric", "name", "capital", "region")


def _answer() -> tuple[list[tuple[bytes, bytes]], bytes]:
    recorded = os.environ.get("BARE_ANSWER")
    if recorded:
        answer = json.loads(Path(recorded).read_text())
        headers = [(n.encode(), v.encode()) for n, v in answer["headers"]]
        return headers, answer["body"].encode()
    countries = json.loads(SEED_FILE.read_text())["countries"]
    body = json.dumps([{f: c[f] for f in FIELDS} for c in countries]).encode()
    return [(b"content-type", b"application/json")], body


HEADERS, BODY = _answer()
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [*HEADERS, (b"content-length", b"%d" % len(BODY))],
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":  # lifespan: nothing to start or stop
        return
    await send(START)
    await send({"type": "http.response.body", "body": BODY})
