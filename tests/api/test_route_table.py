"""The route table read from the app's own OpenAPI document: which methods a path allows and
which operations need a key, with no path listed by hand."""

from fastapi import FastAPI

from app.api.route_table import methods_at, needs_key, template_of


def test_methods_and_templates_of_concrete_paths(app: FastAPI) -> None:
    assert methods_at(app, "/api/v1/summits/2") == {"GET", "PUT", "PATCH", "DELETE"}
    assert methods_at(app, "/api/v1/timeline") == {"GET"}
    assert methods_at(app, "/api/v1/nothing-here") == set()
    assert template_of(app, "/api/v1/sources/article/annotations") == (
        "/api/v1/sources/{id}/annotations"
    )


def test_the_operations_that_declare_a_key_are_the_writes_and_the_audit_trail(app: FastAPI) -> None:
    assert needs_key(app, "GET", "/api/v1/changes")
    assert needs_key(app, "HEAD", "/api/v1/changes")  # answered as GET is
    assert needs_key(app, "POST", "/api/v1/commitments")
    assert needs_key(app, "DELETE", "/api/v1/summits/2")
    assert not needs_key(app, "GET", "/api/v1/summits/2")
    assert not needs_key(app, "GET", "/api/v1/export")
    assert not needs_key(app, "POST", "/api/v1/timeline")  # no such operation
