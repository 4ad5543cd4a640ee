"""Keyset paging: cursors that cost the same on the first page and a million rows deep.

A cursor names the row a page starts after (or ends before) by that row's sort key, so the next
page is an indexed range scan, never a skip over every row before it. It is opaque to clients:
URL-safe base64 of a small JSON object, checked in full when it comes back.
"""

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Column, ColumnElement, and_, false, or_, true, tuple_

Direction = Literal["after", "before", "last"]
SortKey = tuple[str, bool]  # (field, descending)


class CursorError(ValueError):
    """A cursor this API did not make, or made for another sort."""


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: `after` or `before` the row whose sort key is `key`, or the `last`
    page. `position` is the offset of the page's first row when the cursor was made."""

    direction: Direction
    sort: str
    key: tuple[Any, ...] = ()
    position: int = 0

    def encode(self) -> str:
        payload = {"d": self.direction, "s": self.sort, "k": list(self.key), "p": self.position}
        text = json.dumps(payload, separators=(",", ":"), default=_json_value)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, *, sort: str, width: int) -> "Cursor":
        """The cursor `text` encodes, for a list sorted by `sort` on `width` keys."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            payload = json.loads(raw)
            cursor = cls(payload["d"], payload["s"], tuple(payload["k"]), payload["p"])
        except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            raise CursorError("not a cursor this API made; take one from a Link header") from error
        if (
            cursor.direction not in ("after", "before", "last")
            or not isinstance(cursor.position, int)
            or cursor.position < 0
        ):
            raise CursorError("not a cursor this API made; take one from a Link header")
        if cursor.sort != sort:
            raise CursorError(f"this cursor pages a list sorted by {cursor.sort!r}, not {sort!r}")
        if cursor.direction != "last" and len(cursor.key) != width:
            raise CursorError("not a cursor this API made; take one from a Link header")
        return cursor


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


def sort_name(keys: Sequence[SortKey]) -> str:
    """The sort as `sort=` writes it: `-year,id`."""
    return ",".join(("-" if descending else "") + name for name, descending in keys)


def key_of(entity: Mapping[str, Any], keys: Sequence[SortKey]) -> tuple[Any, ...]:
    return tuple(entity[name] for name, _ in keys)


def _typed(column: Any, value: Any) -> Any:
    """A cursor's JSON value as the column's Python type (dates come back as strings)."""
    if value is None or not isinstance(value, str):
        return value
    python_type = column.type.python_type
    if python_type in (dt.date, dt.datetime):
        try:
            return python_type.fromisoformat(value)
        except ValueError as error:
            raise CursorError("not a cursor this API made; take one from a Link header") from error
    return value


def _beyond(column: Column[Any], value: Any, descending: bool) -> ColumnElement[bool]:
    """Rows strictly beyond `value` in the order of `column`, NULL being the smallest value."""
    if value is None:
        return false() if descending else column.is_not(None)
    if descending:
        return or_(column < value, column.is_(None)) if column.nullable else column < value
    after: ColumnElement[bool] = column > value  # `value` is Any, and so would be the result
    return after


def _equal(column: Column[Any], value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def beyond_key(
    columns: Sequence[Any], keys: Sequence[SortKey], values: Sequence[Any], *, reverse: bool
) -> ColumnElement[bool]:
    """Rows after the row with sort key `values` (before it, if `reverse`).

    Where every key runs one way on columns without NULLs, one row-value comparison says it,
    which both SQLite and PostgreSQL answer with a range scan of a matching index.
    """
    typed = [_typed(column, value) for column, value in zip(columns, values, strict=True)]
    directions = [descending != reverse for _, descending in keys]
    if len(set(directions)) == 1 and not any(c.nullable for c in columns) and None not in typed:
        row, key = tuple_(*columns), tuple_(*typed)
        return row < key if directions[0] else row > key
    alternatives = []
    for i, column in enumerate(columns):
        equal_before = [_equal(c, v) for c, v in zip(columns[:i], typed[:i], strict=True)]
        alternatives.append(and_(true(), *equal_before, _beyond(column, typed[i], directions[i])))
    return or_(*alternatives)


def ordering(columns: Sequence[Any], keys: Sequence[SortKey], *, reverse: bool) -> list[Any]:
    """ORDER BY terms for `keys`, NULL first ascending on both databases (PostgreSQL would put
    it last), reversed if `reverse`. Columns without NULLs keep plain terms, so that an index
    in either direction serves them."""
    terms = []
    for column, (_, descending) in zip(columns, keys, strict=True):
        down = descending != reverse
        term = column.desc() if down else column.asc()
        if column.nullable:
            term = term.nulls_last() if down else term.nulls_first()
        terms.append(term)
    return terms
