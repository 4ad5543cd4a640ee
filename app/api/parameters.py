"""The query parameters of the JSON API: paging, format, `fields`, `sort`, cursors, and each
collection's filters, as pydantic models that FastAPI documents and checks. A parameter an
endpoint does not know is refused."""

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, TypeVar, cast

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)

from app.data import history
from app.data import tables as m
from app.data.conditions import (
    FACET_SIZE,
    Condition,
    Kind,
    Operator,
    QueryableField,
    queryable_fields,
)
from app.data.registry import Collection

# A country code as clients may write it: alpha-3 or alpha-2, any case.
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}$")]
Year = Annotated[int, Field(ge=1900, le=2100)]
SummitNumber = Annotated[int, Field(ge=1, le=1_000_000)]
VersionNumber = Annotated[int, Field(ge=0, le=2**31 - 1)]
# Deeper than this, a list is paged by the cursors in its `Link` header: an offset costs in
# proportion to its size, a cursor does not.
MAX_OFFSET = 10_000


class NoQuery(BaseModel):
    """The query of an endpoint that takes no parameters: any parameter is refused."""

    model_config = ConfigDict(extra="forbid")


class PageQuery(NoQuery):
    """Paging and format, as every list takes them."""

    limit: int = Field(50, ge=1, le=500, description="Items per page, 1 to 500.")
    offset: int = Field(
        0,
        ge=0,
        le=MAX_OFFSET,
        description=f"Items to skip, up to {MAX_OFFSET:,}. Deeper pages: follow `Link`.",
    )
    format: Literal["json", "csv"] | None = Field(
        None, description="`csv` for CSV (as `Accept: text/csv` does); JSON by default."
    )


class FieldsQuery(NoQuery):
    fields: str | None = Field(
        None, description="Comma-separated fields to return, e.g. `id,name`."
    )


AS_OF_DESCRIPTION = (
    "The dataset version to answer as of: the data as it stood then, an answer that never"
    " changes. `400` past the current version."
)


class ItemQuery(FieldsQuery):
    """What an entity's detail takes: `fields`, and `as_of` for the entity as it stood."""

    as_of: VersionNumber | None = Field(
        None,
        description=AS_OF_DESCRIPTION
        + " Without the related entities a detail embeds: the entity as the export holds it.",
    )


class ListQuery(PageQuery, FieldsQuery):
    """The query every collection's list takes; a parameter it does not know is refused."""

    sort: str | None = Field(
        None,
        description="Comma-separated fields to sort by, in order; `-` before a field sorts it "
        "descending, e.g. `-year,id`.",
    )
    cursor: str | None = Field(
        None,
        max_length=2048,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Where the page starts, as the `next`, `prev` and `last` URLs of the `Link` "
        "header give it (opaque; made for one `sort`). Costs the same at any depth; not with "
        "`offset`.",
    )
    changed_since: VersionNumber | None = Field(
        None,
        description="Only entities whose last change came after this dataset version (as "
        "`X-Dataset-Version`, an export's `version` or the feed's `last_version` give it).",
    )
    facet: list[str] | None = Field(
        None,
        description="Fields to count the values of, over every matching item (repeat it, or "
        f"separate fields by commas): the envelope's `facets`, the {FACET_SIZE} largest counts"
        " of each field, largest first. A list-valued field counts each element. In CSV, the "
        "counts instead of the items: a row of `facet`, `value`, `count` per value.",
    )

    # The parameters that are conditions on a field (`year__gte`), each as (field, operator).
    condition_parameters: ClassVar[Mapping[str, tuple[str, Operator]]] = {}

    def filter_values(self) -> dict[str, Any]:
        """The collection's own filters the client set, by name."""
        base = ListQuery.model_fields
        return {
            name: value
            for name, value in self
            if name not in base and name not in self.condition_parameters and value is not None
        }

    def where(self, collection: Collection) -> list[Any]:
        """The conditions the client set on fields, and `changed_since`'s."""
        where: list[Any] = self.field_conditions()
        if self.changed_since is not None:
            where.append(history.changed_after(collection, self.changed_since))
        return where

    def field_conditions(self) -> list[Condition]:
        """The conditions on fields the client set (`year__gte=2020`, `flow=export`)."""
        return [
            Condition(*self.condition_parameters[name], value)
            for name, value in self
            if name in self.condition_parameters and value is not None
        ]


QueryT = TypeVar("QueryT", bound=NoQuery)
# The parameters a query may give more than once: each time, one more of the same kind.
REPEATED = frozenset({"facet"})


def names_pattern(names: Iterable[str], *, signed: bool = False) -> str:
    """The regular expression of a comma-separated list of `names` (each maybe `-`-prefixed)."""
    one = ("-?" if signed else "") + "(?:" + "|".join(sorted(names, key=len, reverse=True)) + ")"
    return f"^{one}(?:,{one})*$"


def documented_query(
    base: type[QueryT], *, fields_of: type[BaseModel], sortable: Sequence[str] = ()
) -> type[QueryT]:
    """`base` with its `fields` and `sort` documented by the names they accept, so that the
    OpenAPI document (and code generated from it) knows them. The routes check the names."""
    overrides: dict[str, Any] = {}
    if "fields" in base.model_fields:
        pattern = names_pattern(fields_of.model_fields)
        field = Field(
            None,
            description=base.model_fields["fields"].description,
            json_schema_extra={"pattern": pattern},
        )
        overrides["fields"] = (str | None, field)
    if "sort" in base.model_fields:
        pattern = names_pattern(sortable, signed=True)
        field = Field(
            None,
            description=base.model_fields["sort"].description,
            json_schema_extra={"pattern": pattern},
        )
        overrides["sort"] = (str | None, field)
    return create_model(f"{base.__name__}For{fields_of.__name__}", __base__=base, **overrides)


class CountryQuery(ListQuery):
    region: m.Region | None = Field(None, description="`central-asia` or `east-asia`.")


class SummitQuery(ListQuery):
    year: Year | None = Field(None, description="Summits that started in this year.")
    host: CountryCode | None = Field(None, description="Host country, alpha-3 or alpha-2.")


class AgreementQuery(ListQuery):
    summit: SummitNumber | None = Field(None, description="Number of the summit it was signed at.")
    signatory: CountryCode | None = Field(None, description="A signatory, alpha-3 or alpha-2.")


class TradeStatisticQuery(ListQuery):
    year: Year | None = Field(None, description="Figures of this year.")
    year_from: Year | None = Field(None, description="First year, inclusive.")
    year_to: Year | None = Field(None, description="Last year, inclusive.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")] | None = Field(
        None, description="ISO 4217 code, any case."
    )
    partner: CountryCode | None = Field(None, description="A partner country, alpha-3 or alpha-2.")

    @field_validator("year_to")
    @classmethod
    def _not_before_year_from(cls, year_to: int | None, info: ValidationInfo) -> int | None:
        year_from = info.data.get("year_from")
        if year_to is not None and year_from is not None and year_to < year_from:
            raise ValueError("year_to is before year_from")
        return year_to


# The filters of each collection's list, by name; their SQL is the registry's (`filters`).
LIST_QUERIES: Mapping[str, type[ListQuery]] = {
    "countries": CountryQuery,
    "summits": SummitQuery,
    "agreements": AgreementQuery,
    "trade-statistics": TradeStatisticQuery,
}


OPERATOR_DESCRIPTIONS = {
    "eq": "equal to this value",
    "ne": "not equal to this value (or null)",
    "gt": "greater than this value",
    "gte": "at least this value",
    "lt": "less than this value",
    "lte": "at most this value",
    "in": 'one of these comma-separated values (one holding a comma in double quotes: `"a,b",c`)',
    "contains": "text containing this value, ignoring case",
    "has": "a list holding this value",
}
MAX_VALUE_LENGTH = 1000
Text = Annotated[str, StringConstraints(max_length=MAX_VALUE_LENGTH)]
# A condition's value by the kind of its field (integers: see `_value_type`).
VALUE_TYPES: dict[Kind, Any] = {
    "text": Text,
    "number": Annotated[float, Field(allow_inf_nan=False)],
    "boolean": bool,
    "date": dt.date,
    "partial date": m.PartialDate,
}


def _comma_separated(item_type: Any) -> Callable[[str], list[Any]]:
    """A validator of `a,b,c` into a list of `item_type`, each checked as one value is; a
    value holding a comma is written in double quotes, as in CSV: `"Xi'an, China",Astana`."""
    adapter: TypeAdapter[list[Any]] = TypeAdapter(list[item_type])

    def parse(text: str) -> list[Any]:
        try:
            values = next(csv.reader([text], skipinitialspace=True), [""])
        except csv.Error as error:  # a line break or a quote out of place
            raise ValueError(f"not a comma-separated list of values: {error}") from None
        try:
            return adapter.validate_python(values)
        except ValidationError as error:
            first = error.errors()[0]
            raise ValueError(f"{first['input']!r}: {first['msg']}") from None

    return parse


def _value_type(field: QueryableField, operator: Operator) -> Any:
    """The type of a condition's value: a closed set's values, else its kind's type."""
    if operator == "contains" or field.listed:
        return Text
    if field.choices:
        return Literal[field.choices]
    if field.kind == "integer":  # within what its column holds: no value past it can match
        low, high = field.bounds
        return Annotated[int, Field(ge=low, le=high)]
    return VALUE_TYPES[field.kind]


def _condition_parameter(field: QueryableField, operator: Operator) -> tuple[Any, Any]:
    value_type = _value_type(field, operator)
    described = f"Items whose `{field.name}` is {OPERATOR_DESCRIPTIONS[operator]}."
    if operator != "in":
        return value_type | None, Field(None, description=described)
    # Documented as what it is, a list of the field's values (`openapi_parameters`).
    items: dict[str, Any] = {"x-items": TypeAdapter(value_type).json_schema()}
    listed = Annotated[str, AfterValidator(_comma_separated(value_type))]
    return listed | None, Field(None, description=described, json_schema_extra=items)


def _with_conditions(
    model: type[ListQuery], collection: Collection
) -> tuple[dict[str, Any], dict[str, tuple[str, Operator]]]:
    """The parameters of a condition on each queryable field: `<field>` (equals, unless the
    collection has a filter of that name) and `<field>__<operator>`."""
    parameters: dict[str, Any] = {}
    conditions: dict[str, tuple[str, Operator]] = {}
    for field in queryable_fields(collection).values():
        operators: list[Operator] = list(field.operators)
        if not field.listed and field.name not in model.model_fields:
            operators.insert(0, "eq")
        for operator in operators:
            name = field.name if operator == "eq" else f"{field.name}__{operator}"
            parameters[name] = _condition_parameter(field, operator)
            conditions[name] = (field.name, operator)
    return parameters, conditions


def list_query(collection: Collection) -> type[ListQuery]:
    """The query a collection's list takes: the paging and fields every list takes, its
    filters, a condition on each of its fields, and `fields`, `sort` and `facet` documented
    by the names they accept."""
    model = LIST_QUERIES.get(collection.name, ListQuery)
    missing = set(collection.filters) - set(model.model_fields)
    assert not missing, f"{collection.name}: filters without a parameter: {missing}"
    parameters, conditions = _with_conditions(model, collection)
    facet = model.model_fields["facet"]
    facet_names = names_pattern(queryable_fields(collection))
    parameters["facet"] = (
        list[Annotated[str, Field(json_schema_extra={"pattern": facet_names})]] | None,
        Field(None, description=facet.description),
    )
    with_conditions = cast(
        type[ListQuery],
        create_model(
            f"{model.__name__}With{class_name(collection.name)}Fields",
            __base__=model,
            **parameters,
        ),
    )
    with_conditions.condition_parameters = conditions
    return documented_query(
        with_conditions, fields_of=collection.public, sortable=collection.sortable
    )


def class_name(name: str) -> str:
    """`trade-statistics` as `TradeStatistics`."""
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def parse_query(request: Request, model: type[QueryT], *, empty_is_absent: bool = False) -> QueryT:
    """The query string as `model`, reading only the parameters it gives (a list's model has
    a parameter per field and operator: FastAPI would look each up on every request). A
    problem is a 400 naming the parameter, as FastAPI's own; `empty_is_absent` for a form,
    whose fields left empty are sent as `name=`."""
    given: dict[str, Any] = {
        name: value
        for name, value in request.query_params.items()
        if value != "" or not empty_is_absent
    }
    for name in REPEATED & given.keys():
        given[name] = request.query_params.getlist(name)
    try:
        return model.model_validate(given)
    except ValidationError as error:
        problems = [{**e, "loc": ("query", *e["loc"])} for e in error.errors()]
        raise RequestValidationError(problems) from None


def openapi_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """`model`'s fields as the OpenAPI document's query parameters, for an operation that
    reads its query with `parse_query`."""
    schema = model.model_json_schema()
    assert "$defs" not in schema, f"{model.__name__}: a parameter type the document cannot name"
    parameters = []
    for name, field in schema["properties"].items():
        field = dict(field)
        description = field.pop("description", None)
        field.pop("title", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": False}
        if description:
            parameter["description"] = description
        items = field.pop("x-items", None)
        if items is not None:  # `a,b,c`: OpenAPI's form style, not exploded
            field = {"type": "array", "items": items}
            parameter |= {"style": "form", "explode": False}
        parameters.append({**parameter, "schema": field})
    return parameters
