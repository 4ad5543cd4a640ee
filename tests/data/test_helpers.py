"""The data layer's pure helpers, on their own: cursors, slugs, merge patch, quote resolution."""

import pytest

from app.data.citations import CitationError, resolve
from app.data.paging import Cursor, CursorError, sort_name
from app.data.tables import CitationIn
from app.data.writes import merge_patch, slugify

TEXTS = {"article": "Xi announced three centers. Xi announced them again.", "iso": None}


def test_a_cursor_round_trips_and_refuses_another_sort_or_width():
    cursor = Cursor("after", "-year,id", (2024, "trade-2024"), 50)
    text = cursor.encode()
    assert "=" not in text and "/" not in text and "+" not in text  # URL-safe, unpadded
    assert Cursor.decode(text, sort="-year,id", width=2) == cursor
    with pytest.raises(CursorError, match="sorted by '-year,id', not 'id'"):
        Cursor.decode(text, sort="id", width=2)
    with pytest.raises(CursorError, match="not a cursor this API made"):
        Cursor.decode(text, sort="-year,id", width=1)
    for garbage in ("", "not-base64!", Cursor("sideways", "id").encode()):  # type: ignore[arg-type]
        with pytest.raises(CursorError):
            Cursor.decode(garbage, sort="id", width=1)
    assert sort_name([("year", True), ("id", False)]) == "-year,id"


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("China–Central Asia: Poverty Reduction", "china-central-asia-poverty-reduction"),
        ("  Xi\u2019an  ", "xi-an"),  # a curly apostrophe parts words too
        ("Ölkə", "olk"),
        ("--", ""),
        ("a" * 130, "a" * 120),
    ],
)
def test_slugs(text, slug):
    assert slugify(text) == slug


def test_merge_patch_follows_rfc_7396():
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "list": [3], "new": {"x": 1}}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "list": [3], "new": {"x": 1}}
    assert merge_patch(target, ["replaced"]) == ["replaced"]
    assert merge_patch("scalar", {"a": None}) == {}
    assert target["c"] == {"d": "e", "f": "g"}  # the target is not changed in place


def citation(**values) -> CitationIn:
    return CitationIn(source="article", fields=["title"], **values)


def test_a_quote_is_pinned_to_its_one_place_with_the_text_around_it():
    resolved = resolve(citation(quote="three centers"), TEXTS)
    assert (resolved.start, resolved.end) == (13, 26)
    assert (resolved.prefix, resolved.suffix) == ("Xi announced ", ". Xi announced them again.")
    given = resolve(citation(quote="Xi announced", start=28, end=40, prefix="wrong"), TEXTS)
    assert given.prefix == "Xi announced three centers. "  # the text's, not the body's


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"quote": "Xi announced"}, "ambiguous: it occurs 2 times"),
        ({"quote": "four centers"}, "not found"),
        ({"quote": "Xi", "start": 1, "end": 3}, "text[1:3] is not the quote"),
        ({"quote": None}, "a quote is required"),
    ],
)
def test_a_quote_that_cannot_be_pinned_says_why(values, reason):
    with pytest.raises(CitationError) as refused:
        resolve(citation(**values), TEXTS)
    assert reason in refused.value.reason


def test_a_reference_source_takes_no_quote():
    reference = CitationIn(source="iso", fields=["currency"])
    assert resolve(reference, TEXTS).quote is None
    with pytest.raises(CitationError, match="no stored text"):
        resolve(CitationIn(source="iso", fields=["currency"], quote="x"), TEXTS)
    with pytest.raises(CitationError, match="no such source"):
        resolve(CitationIn(source="nowhere", fields=["x"]), TEXTS)
