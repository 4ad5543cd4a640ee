"""Several server processes on one database serve one state of the data: a write through one
is read through another at once, ETags included (on SQLite and, in the PostgreSQL pass, on
PostgreSQL: the replicas of a deployment)."""

import httpx

from tests.conftest import API_KEYS, EDITOR_KEY
from tests.server import running_server


def test_a_write_through_one_process_is_read_through_another_at_once(database_url):
    keys = {"SUMMIT_API_KEYS": API_KEYS}
    with (
        running_server(database_url, **keys) as first,
        running_server(database_url, **keys) as second,
    ):
        before = httpx.get(f"{second}/api/v1/countries/TKM")
        assert before.json()["capital"] == "Ashgabat"
        etag = before.headers["etag"]
        assert (
            httpx.get(f"{second}/api/v1/countries/TKM", headers={"If-None-Match": etag}).status_code
            == 304
        )

        written = httpx.patch(
            f"{first}/api/v1/countries/TKM",
            json={"capital": "Ashgabat (test)"},
            headers={"Authorization": f"Bearer {EDITOR_KEY}"},
        )
        assert written.status_code == 200
        version = written.headers["x-dataset-version"]

        # No pause: the very next request to the other process sees the write.
        after = httpx.get(f"{second}/api/v1/countries/TKM", headers={"If-None-Match": etag})
        assert after.status_code == 200
        assert after.json()["capital"] == "Ashgabat (test)"
        assert after.headers["x-dataset-version"] == version
        assert after.headers["etag"] != etag
        listed = httpx.get(f"{second}/api/v1/countries?region=central-asia").json()
        assert "Ashgabat (test)" in [c["capital"] for c in listed["items"]]
        assert httpx.get(f"{first}/api/v1/countries/TKM").headers["etag"] == after.headers["etag"]
