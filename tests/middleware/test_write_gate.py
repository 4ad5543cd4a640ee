"""The write gate's keys and their scopes: a key limited to some collections writes only those
and never reads the audit trail; the start-up log names each key and its scope, never a secret."""

import pytest

from app.config import Settings
from app.main import create_app
from tests.conftest import API_KEYS, EDITOR_KEY, app_client, assert_problem, logged

pytestmark = pytest.mark.anyio

SCOPED_KEY = "trade-desk-secret-0123456789"
KEYS = f"{API_KEYS},trade-desk:{SCOPED_KEY}:trade-statistics+people"
PERSON = {
    "name": "A. Tester",
    "roles": ["tester"],
    "sources": [{"source": "article", "quote": "witnessed the signing", "fields": ["roles"]}],
    "derivations": [{"fields": ["name"], "basis": "inferred", "note": "A test's."}],
}


async def test_a_scoped_key_writes_only_its_collections(database_url):
    app = create_app(Settings(database_url=database_url, summit_api_keys=KEYS))
    async with app_client(app, headers={"Authorization": f"Bearer {SCOPED_KEY}"}) as client:
        created = await client.post("/api/v1/people", json=PERSON)
        assert created.status_code == 201, created.text
        version = (await client.get("/api/v1/countries")).headers["x-dataset-version"]
        outside = await client.patch("/api/v1/countries/CHN", json={"capital": "Peking"})
        problem = assert_problem(outside, 403)
        assert problem["detail"] == (
            "The API key 'trade-desk' may write only people, trade-statistics:"
            " not PATCH /api/v1/countries/CHN."
        )
        # Refused before its body is read, however bad the body is.
        unread = await client.post(
            "/api/v1/countries", content=b"{not json", headers={"Content-Type": "text/plain"}
        )
        assert_problem(unread, 403)
        assert_problem(await client.get("/api/v1/changes"), 403)
        assert (await client.get("/api/v1/countries/CHN")).json()["capital"] == "Beijing"
        after = (await client.get("/api/v1/countries")).headers["x-dataset-version"]
        assert after == version
        changes = await client.get(
            "/api/v1/changes", headers={"Authorization": f"Bearer {EDITOR_KEY}"}
        )
    assert SCOPED_KEY not in outside.text
    assert [(c["key_name"], c["collection"]) for c in changes.json()["items"]] == [
        ("trade-desk", "people")
    ]


def test_the_start_up_log_names_each_key_and_its_scope_never_a_secret(database_url):
    with logged("app") as messages:
        create_app(Settings(database_url=database_url, summit_api_keys=KEYS))
    assert [m for m in messages if m.startswith("API keys:")] == [
        "API keys: editor (every collection and /changes); bot (every collection and /changes);"
        " trade-desk (people, trade-statistics)"
    ]
    assert not any(SCOPED_KEY in m or EDITOR_KEY in m for m in messages)


@pytest.mark.parametrize(
    ("entry", "refusal"),
    [
        (
            f"desk:{SCOPED_KEY}:countries+contries",
            "the scope of the key 'desk' names a collection this API does not have",
        ),
        (f"desk:{SCOPED_KEY}:", "entry 1 (desk): name its collections"),
        (f"desk:{SCOPED_KEY}:countries+", "entry 1 (desk): name its collections"),
        (f"desk:{SCOPED_KEY}:countries:people", "entry 1 must be name:secret or"),
    ],
)
def test_a_scope_that_names_no_collection_is_refused_at_start(database_url, entry, refusal):
    with pytest.raises(ValueError, match="SUMMIT_API_KEYS") as refused:
        create_app(Settings(database_url=database_url, summit_api_keys=entry))
    assert refusal in str(refused.value)
    assert SCOPED_KEY not in str(refused.value)
