"""The query grammar every list shares: conditions on any field and facet counts.

Which fields can be queried, and how, is read off each collection's table and public shape: a
column the public shape shows is a scalar field (text, integer, number, boolean or date); a list
kept in an association table or a JSON array is a list-valued field. Nothing HTTP here.
"""

import datetime as dt
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    JSON,
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
from app.data.registry import Collection, ListField

Kind = Literal["text", "integer", "number", "boolean", "date"]
Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "has"]
# The operators of a scalar field, by kind; a list-valued field takes `has` only.
COMPARISONS: tuple[Operator, ...] = ("ne", "gt", "gte", "lt", "lte", "in")
SCALAR_OPERATORS: dict[Kind, tuple[Operator, ...]] = {
    "text": (*COMPARISONS, "contains"),
    "integer": COMPARISONS,
    "number": COMPARISONS,
    "boolean": ("ne", "in"),
    "date": COMPARISONS,
}
PYTHON_TYPES: dict[Kind, type] = {
    "text": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "date": dt.date,
}
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
    # A list-valued field: from an association table (`link`) or a JSON array column.
    listed: bool = False
    link: ListField | None = None

    @property
    def operators(self) -> tuple[Operator, ...]:
        return ("has",) if self.listed else SCALAR_OPERATORS[self.kind]

    @property
    def python_type(self) -> type:
        return PYTHON_TYPES[self.kind]


@dataclass(frozen=True)
class Condition:
    """`field` `operator` `value`: `in` takes a list of values, every other operator one."""

    field: str
    operator: Operator
    value: Any


def _kind_of(column_type: Any) -> Kind:
    if isinstance(column_type, Boolean):
        return "boolean"
    if isinstance(column_type, Integer):
        return "integer"
    if isinstance(column_type, Float):
        return "number"
    if isinstance(column_type, Date):
        return "date"
    return "text"


def _choices(annotation: Any) -> tuple[str, ...]:
    """The values of a `Literal` annotation (maybe optional), else none."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(candidate) is Literal:
            return tuple(typing.get_args(candidate))
    return ()


def queryable_fields(collection: Collection) -> dict[str, QueryableField]:
    """The fields of `collection`'s items that conditions and facets can name, in the order of
    its public shape."""
    table = m.table_of(collection.table)
    links = {link.field: link for link in collection.lists}
    fields: dict[str, QueryableField] = {}
    for name, info in collection.public.model_fields.items():
        if name in links:
            fields[name] = QueryableField(name, "text", False, listed=True, link=links[name])
            continue
        column = table.c.get(name)
        if column is None:  # computed, or provenance
            continue
        if isinstance(column.type, JSON):
            if typing.get_origin(info.annotation) is list:  # a JSON array of text
                fields[name] = QueryableField(name, "text", False, listed=True)
            continue
        kind = _kind_of(column.type)
        fields[name] = QueryableField(
            name, kind, bool(column.nullable), choices=_choices(info.annotation)
        )
    return fields


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


def condition_sql(
    session: Session, collection: Collection, condition: Condition
) -> ColumnElement[bool]:
    """The SQL of one condition. Equality, ranges and `in` are plain comparisons of the column,
    which an index on it serves; `ne` keeps the items where the field is null (they are not
    equal to the value either)."""
    field = queryable_fields(collection)[condition.field]
    if condition.operator == "has":
        result: ColumnElement[bool] = _has(session, collection, field, condition.value)
        return result
    column: ColumnElement[Any] = m.table_of(collection.table).c[condition.field]
    value = condition.value
    comparisons: dict[str, Any] = {
        "eq": lambda: column == value,
        "ne": lambda: or_(column != value, column.is_(None)) if field.nullable else column != value,
        "gt": lambda: column > value,
        "gte": lambda: column >= value,
        "lt": lambda: column < value,
        "lte": lambda: column <= value,
        "in": lambda: column.in_(value),
        "contains": lambda: column.icontains(value, autoescape=True),
    }
    if condition.operator in comparisons:
        sql: ColumnElement[bool] = comparisons[condition.operator]()
        return sql
    raise ValueError(f"no operator {condition.operator!r}")


def facet_counts(
    session: Session,
    collection: Collection,
    field_name: str,
    conditions: Sequence[ColumnElement[bool]],
) -> list[dict[str, Any]]:
    """How many of the items matching `conditions` hold each value of the field, largest count
    first (then by value), the `FACET_SIZE` largest; a list-valued field counts each element."""
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
    count = func.count()
    statement = (
        statement.group_by(value)
        .order_by(count.desc(), value.asc().nulls_first())
        .limit(FACET_SIZE)
    )
    rows = session.connection().execute(statement).all()
    return [{"value": row.value, "count": row.count} for row in rows]
