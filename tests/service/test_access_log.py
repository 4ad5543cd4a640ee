"""The access log as a real server writes it: one JSON object per request on stdout, the
service's own messages on stderr."""

import json
import time

import httpx

from tests.server import server_process


def _access_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"request_id"')]


def test_access_log_is_one_json_line_per_request_on_stdout(database_url):
    with server_process(database_url) as server:
        httpx.get(f"{server.url}/api/v1/summits/2", headers={"X-Request-ID": "log-test"})
        httpx.get(f"{server.url}/api/v1/summits/9")
        deadline = time.monotonic() + 5  # lines are written in batches, at least every 0.2 s
        while time.monotonic() < deadline:
            entries = [e for e in _access_lines(server.stdout()) if e["path"] != "/readyz"]
            if len(entries) >= 2:
                break
            time.sleep(0.05)
        stderr = server.stderr()
    assert [(e["request_id"], e["method"], e["path"], e["status"]) for e in entries] == [
        ("log-test", "GET", "/api/v1/summits/2", 200),
        (entries[1]["request_id"], "GET", "/api/v1/summits/9", 404),
    ]
    assert len(entries[1]["request_id"]) == 32
    assert all(isinstance(e["duration_ms"], float) for e in entries)
    assert set(entries[0]) == {"request_id", "method", "path", "status", "duration_ms"}
    assert '{"request_id"' not in stderr  # the service's own messages only
