"""The query grammar every list shares: conditions on any field and facet counts.

Which fields can be queried, and how, is read off each collection's table and public shape: a
column the public shape shows is a scalar field (text, integer, number, boolean or date); a list
kept in an association table or a JSON array is a list-valued field. Nothing HTTP here.
"""

import functools
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pycountry
from pydantic.fields import FieldInfo
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    Float,
    Integer,
    Select,
    and_,
    exists,
    func,
    or_,
    select,
    true,
)
from sqlmodel import Session

from app.data import tables as m
from app.data.engine import SQLITE_LOWER
from app.data.registry import BY_NAME, Collection, ListField, named_collections

Kind = Literal["text", "integer", "number", "boolean", "date", "partial date"]
Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "has"]
# The operators of a scalar field, by kind; a list-valued field takes `has` only.
COMPARISONS: tuple[Operator, ...] = ("ne", "gt", "gte", "lt", "lte", "in")
SCALAR_OPERATORS: dict[Kind, tuple[Operator, ...]] = {
    "text": (*COMPARISONS, "contains"),
    "integer": COMPARISONS,
    "number": COMPARISONS,
    "boolean": ("ne", "in"),
    "date": COMPARISONS,
    "partial date": COMPARISONS,
}
RANGES = frozenset({"gt", "gte", "lt", "lte"})
# How many values a facet counts at most: the largest counts, as Datasette's do.
FACET_SIZE = 50


@dataclass(frozen=True)
class QueryableField:
    """A field of a collection that conditions and facets can name."""

    name: str
    kind: Kind
    nullable: bool
    # The values a field declared as a closed set may take (`region`), in order.
    choices: tuple[str, ...] = ()
    # The range an integer column holds (a value past it could match nothing).
    bounds: tuple[int, int] = (-(2**63), 2**63 - 1)
    # Codes in capitals (`KAZ`, `USD`): a value is compared in capitals too.
    capitals: bool = False
    # It names a country: an alpha-2 code stands for the country's alpha-3 id.
    country: bool = False
    # A list-valued field: from an association table (`link`) or a JSON array column.
    listed: bool = False
    link: ListField | None = None

    @property
    def operators(self) -> tuple[Operator, ...]:
        return ("has",) if self.listed else SCALAR_OPERATORS[self.kind]


@dataclass(frozen=True)
class Condition:
    """`field` `operator` `value`: `in` takes a list of values, every other operator one."""

    field: str
    operator: Operator
    value: Any


def _kind_of(column_type: Any, patterns: set[str]) -> Kind:
    if isinstance(column_type, Boolean):
        return "boolean"
    if isinstance(column_type, Integer):
        return "integer"
    if isinstance(column_type, Float):
        return "number"
    if isinstance(column_type, Date):
        return "date"
    return "partial date" if m.PARTIAL_DATE_PATTERN in patterns else "text"


def _choices(annotation: Any) -> tuple[str, ...]:
    """The values of a `Literal` annotation (maybe optional), else none."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(candidate) is Literal:
            return tuple(typing.get_args(candidate))
    return ()


def _patterns(info: FieldInfo) -> set[str]:
    """The patterns a field's values match, wherever its annotation declares them."""
    constraints = list(info.metadata)
    for candidate in typing.get_args(info.annotation):  # `Annotated[...] | None`
        constraints += getattr(candidate, "__metadata__", ())
    return {c.pattern for c in constraints if isinstance(getattr(c, "pattern", None), str)}


def _names_a_country(collection: Collection, name: str) -> bool:
    """Whether the field `name` holds country codes: a country's id, or a country named."""
    if collection.name == "countries" and name == "id":
        return True
    target = named_collections(collection).get(name)
    return target is not None and target.name == "countries"


def _scalar(collection: Collection, column: Any, info: FieldInfo) -> QueryableField:
    patterns = _patterns(info)
    big = isinstance(column.type, BigInteger)
    return QueryableField(
        column.name,
        _kind_of(column.type, patterns),
        bool(column.nullable),
        choices=_choices(info.annotation),
        bounds=(-(2**63), 2**63 - 1) if big else (-(2**31), 2**31 - 1),
        capitals=any(p.startswith("^[A-Z]") for p in patterns),
        country=_names_a_country(collection, column.name),
    )


def _listed(collection: Collection, link: ListField) -> QueryableField:
    names_country = _names_a_country(collection, link.field)
    return QueryableField(
        link.field,
        "text",
        False,
        capitals=names_country,
        country=names_country,
        listed=True,
        link=link,
    )


@functools.cache
def _queryable(collection_name: str) -> dict[str, QueryableField]:
    collection = BY_NAME[collection_name]
    table = m.table_of(collection.table)
    links = {link.field: link for link in collection.lists}
    fields: dict[str, QueryableField] = {}
    for name, info in collection.public.model_fields.items():
        column = table.c.get(name)
        if name in links:
            fields[name] = _listed(collection, links[name])
        elif column is None:  # computed, or provenance
            continue
        elif not isinstance(column.type, JSON):
            fields[name] = _scalar(collection, column, info)
        elif typing.get_origin(info.annotation) is list:  # a JSON array of text
            fields[name] = QueryableField(name, "text", False, listed=True)
    return fields


def queryable_fields(collection: Collection) -> dict[str, QueryableField]:
    """The fields of `collection`'s items that conditions and facets can name, in the order of
    its public shape."""
    return _queryable(collection.name)


# The operators that compare whole values, for which an alpha-2 code names its country.
WHOLE_VALUES = frozenset({"eq", "ne", "in", "has"})


def _as_stored(field: QueryableField, operator: Operator, value: Any) -> Any:
    """A value as the field stores it: codes in capitals; compared whole, a country's alpha-2
    code as its alpha-3 id."""
    if isinstance(value, list):
        return [_as_stored(field, operator, v) for v in value]
    if not isinstance(value, str) or not field.capitals:
        return value
    code = value.upper()
    if field.country and len(code) == 2 and operator in WHOLE_VALUES:
        country = pycountry.countries.get(alpha_2=code)
        return code if country is None else country.alpha_3
    return code


def _elements(session: Session, column: Any) -> Any:
    """The elements of a JSON array column, as a table of one `value` column."""
    if session.get_bind().dialect.name == "postgresql":
        return func.json_array_elements_text(column).table_valued("value")
    return func.json_each(column).table_valued("value")


def _has(session: Session, collection: Collection, field: QueryableField, value: Any) -> Any:
    table = m.table_of(collection.table)
    if field.link is not None:
        link = field.link
        owners = select(getattr(link.table, link.owner)).where(
            getattr(link.table, link.value) == value
        )
        return table.c.id.in_(owners)
    elements = _elements(session, table.c[field.name])
    return exists(select(1).select_from(elements).where(elements.c.value == value))


def _contains(session: Session, column: Any, value: str) -> Any:
    """Case-insensitive, in every script, alike on both databases."""
    if session.get_bind().dialect.name == "postgresql":
        return column.icontains(value, autoescape=True)
    return getattr(func, SQLITE_LOWER)(column).contains(value.lower(), autoescape=True)


def condition_sql(
    session: Session, collection: Collection, condition: Condition
) -> ColumnElement[bool]:
    """The SQL of one condition. Equality, ranges and `in` are plain comparisons of the column,
    which an index on it serves; `ne` keeps the items where the field is null (they are not
    equal to the value either). Text compares by code point on both databases."""
    field = queryable_fields(collection)[condition.field]
    value = _as_stored(field, condition.operator, condition.value)
    if condition.operator == "has":
        result: ColumnElement[bool] = _has(session, collection, field, value)
        return result
    column: Any = m.table_of(collection.table).c[condition.field]
    postgres = session.get_bind().dialect.name == "postgresql"
    if condition.operator in RANGES and field.kind in ("text", "partial date") and postgres:
        column = column.collate("C")  # as SQLite compares, not by the server's locale
    comparisons: dict[str, Any] = {
        "eq": lambda: column == value,
        "ne": lambda: or_(column != value, column.is_(None)) if field.nullable else column != value,
        "gt": lambda: column > value,
        "gte": lambda: column >= value,
        "lt": lambda: column < value,
        "lte": lambda: column <= value,
        "in": lambda: column.in_(value),
        "contains": lambda: _contains(session, column, value),
    }
    sql: ColumnElement[bool] = comparisons[condition.operator]()
    return sql


def facet_counts(
    session: Session,
    collection: Collection,
    field_name: str,
    conditions: Sequence[ColumnElement[bool]],
) -> list[dict[str, Any]]:
    """How many of the items matching `conditions` hold each value of the field, largest count
    first (then by value, by code point), the `FACET_SIZE` largest; a list-valued field counts
    each element."""
    table = m.table_of(collection.table)
    field = queryable_fields(collection)[field_name]
    statement: Select[Any]
    if field.link is not None:
        link = field.link
        value = getattr(link.table, link.value)
        owner = getattr(link.table, link.owner)
        statement = select(value.label("value"), func.count().label("count")).select_from(
            link.table
        )
        if conditions:
            statement = statement.where(owner.in_(select(table.c.id).where(and_(*conditions))))
    elif field.listed:
        elements = _elements(session, table.c[field_name])
        value = elements.c.value
        statement = (
            select(value.label("value"), func.count().label("count"))
            .select_from(table)
            .join(elements, true())
            .where(*conditions)
        )
    else:
        value = table.c[field_name]
        statement = (
            select(value.label("value"), func.count().label("count"))
            .select_from(table)
            .where(*conditions)
        )
    by_value = value
    if session.get_bind().dialect.name == "postgresql" and field.kind in ("text", "partial date"):
        by_value = value.collate("C")
    count = func.count()
    statement = (
        statement.group_by(value)
        .order_by(count.desc(), by_value.asc().nulls_first())
        .limit(FACET_SIZE)
    )
    rows = session.connection().execute(statement).all()
    return [{"value": row.value, "count": row.count} for row in rows]
