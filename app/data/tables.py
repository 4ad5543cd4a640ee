"""Tables and the shapes the API shows of them, one ladder per collection.

For each collection: `<Name>Base` holds the fields the table and the API share, `<Name>` is the
table, `<Name>In` is what the seed file (and a write) gives, `<Name>Public` is what a read returns.
List-valued fields such as a summit's participants live in association tables (`SummitParticipant`)
and appear as plain lists of ids on `In` and `Public`. Citations of every collection share one
table, keyed by collection name and entity id.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Strict,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
)
from sqlmodel import AutoString, Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model. SQLModel sets `__table__` on table classes only, so the
    type of `SQLModel` does not declare it."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=120)
]
Alpha3 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Alpha2 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


# A date known to the day, the month or only the year: 2025-06-17, 2022-06, 2024.
def _real_partial_date(value: str) -> str:
    year, month, day = [*map(int, value.split("-")), 1, 1][:3]
    dt.date(year, month, day)  # ValueError for 2025-13 or 2020-02-31
    return value


PARTIAL_DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"
PartialDate = Annotated[
    str, StringConstraints(pattern=PARTIAL_DATE_PATTERN), AfterValidator(_real_partial_date)
]


def not_before(start: str | None, end: str | None) -> bool:
    """Whether partial date `end` can be on or after `start` (compared at the coarser one's
    precision: 2025 is not before 2025-06)."""
    if start is None or end is None:
        return True
    precision = min(len(start), len(end))
    return end[:precision] >= start[:precision]


Region = Literal["central-asia", "east-asia"]
# JSON numbers and booleans as they are: no "5" for 5, no 0 for false. Bounded, so that no
# value overflows the database's integers.
Count = Annotated[int, Strict(), Field(ge=0, le=10**15)]
Position = Annotated[int, Strict(), Field(ge=1, le=10**6)]
Offset = Annotated[int, Strict(), Field(ge=0, le=10**9)]
YearNumber = Annotated[int, Strict(), Field(ge=1900, le=2100)]


def deferred_reference(target: str, *, index: bool = False) -> Any:
    """A nullable column referring to `target`, checked as the transaction commits: so that a
    data file may hold a record before the one it refers to (a citation of a person loaded
    later, the two currencies of one trade figure in either order)."""
    return Column(
        AutoString,
        ForeignKey(target, deferrable=True, initially="DEFERRED"),
        nullable=True,
        index=index,
    )


# --- provenance: citations and derivations ------------------------------------------------------

FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
FieldNames = Annotated[list[FieldName], Field(min_length=1, max_length=64)]
Basis = Literal["derived", "inferred"]


class CitationIn(BaseModel):
    """A citation as the seed file and a write give it: the offsets may be left for the server
    to find; `prefix` and `suffix` may be given (an export carries them) but are the server's."""

    model_config = ConfigDict(extra="forbid")

    source: Slug
    quote: str | None = None
    start: Offset | None = None
    end: Offset | None = None
    fields: FieldNames = Field(description="The fields of the entity this citation supports.")
    said_by: Slug | None = Field(
        None, description="The person the source attributes these words to, by id."
    )
    prefix: str | None = Field(None, description="Ignored: the server cuts it from the text.")
    suffix: str | None = Field(None, description="Ignored: the server cuts it from the text.")


class CitationPublic(BaseModel):
    """`source`'s stored text satisfies `text[start:end] == quote`; `quote`, the offsets,
    `prefix` and `suffix` are null for a reference source whose text is not stored."""

    source: str
    quote: str | None
    start: int | None
    end: int | None
    fields: list[str] = Field(description="The fields of the entity this citation supports.")
    said_by: str | None = Field(
        description="The person the source attributes these words to (a person's id); null "
        "when the source states them itself."
    )
    prefix: str | None = Field(
        description="Up to 32 characters of the source's text right before the quote."
    )
    suffix: str | None = Field(
        description="Up to 32 characters of the source's text right after the quote."
    )


class Citation(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("collection", "entity_id", "position"),
        CheckConstraint(
            '(quote IS NULL AND start IS NULL AND "end" IS NULL)'
            ' OR (quote IS NOT NULL AND start >= 0 AND "end" > start)',
            name="offsets",
        ),
        Index("ix_citation_entity", "collection", "entity_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    collection: str
    entity_id: str
    position: int
    source_id: str = Field(foreign_key="source.id", index=True)
    quote: str | None = None
    start: int | None = None
    end: int | None = None
    fields: list[str] = Field(sa_column=Column(JSON, nullable=False))
    said_by: str | None = Field(default=None, sa_column=deferred_reference("person.id", index=True))


class DerivationIn(BaseModel):
    """Support for values the source does not state in so many words."""

    model_config = ConfigDict(extra="forbid")

    fields: FieldNames = Field(description="The fields of the entity this derivation supports.")
    basis: Basis = Field(
        description="`derived`: computed by a stated rule from cited facts; `inferred`: read "
        "from context, not stated in so many words."
    )
    note: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="How, in one sentence."
    )


class DerivationPublic(BaseModel):
    fields: list[str]
    basis: Basis
    note: str


class Derivation(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("collection", "entity_id", "position"),
        CheckConstraint("basis IN ('derived', 'inferred')", name="basis"),
        Index("ix_derivation_entity", "collection", "entity_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    collection: str
    entity_id: str
    position: int
    fields: list[str] = Field(sa_column=Column(JSON, nullable=False))
    basis: str
    note: str


class Cited(SQLModel):
    """What every public shape carries to say what supports its values."""

    sources: list[CitationPublic]
    derivations: list[DerivationPublic] = Field(
        description="Values the sources do not state in so many words, and how they were had."
    )


class RecordIn(SQLModel):
    """What the seed file and a write give of a record: a member it does not know is an error."""

    # SQLModel types `model_config` as a TypedDict of its own, which ConfigDict is not.
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


class CitedIn(RecordIn):
    sources: list[CitationIn] = Field(min_length=1)
    derivations: list[DerivationIn] = []


# --- sources -------------------------------------------------------------------------------------


class SourceBase(SQLModel):
    id: Slug = Field(primary_key=True)
    title: str
    type: Literal["article", "reference"] = Field(sa_type=AutoString)
    publisher: str | None = None
    published: PartialDate | None = None
    url: str | None = None


class Source(SourceBase, table=True):
    __table_args__ = (CheckConstraint("type IN ('article', 'reference')", name="type"),)

    text: str | None = None


class SourceIn(RecordIn, SourceBase):
    # A page on the web, which the pages link: never `javascript:` or another scheme.
    url: Annotated[str, StringConstraints(pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$")] | None = None
    text: str | None = None
    # A path beside the seed file holding the text, so the data file need not repeat the
    # article. Read by the loader only, never written out: an export carries `text` itself.
    text_file: str | None = Field(default=None, exclude=True)


class SourcePublic(Cited, SourceBase):
    """A source's metadata. A source is what citations point at: its own `sources` is empty."""

    text_length: int | None

    @model_validator(mode="before")
    @classmethod
    def _measure_text(cls, data: Any) -> Any:
        if isinstance(data, dict) and "text_length" not in data:
            text = data.get("text")
            data = {**data, "text_length": None if text is None else len(text)}
        return data


class SourceDetail(SourcePublic):
    text: str | None


# --- countries -----------------------------------------------------------------------------------

# The languages of the six countries, as BCP 47 tags, in which a country's `names` are given.
NameLanguage = Literal["zh", "ru", "kk", "ky", "tg", "tk", "uz"]
# The same tags, each with its language's name in English, in the order `names` keeps them.
NAME_LANGUAGES: dict[str, str] = {
    "zh": "Chinese",
    "ru": "Russian",
    "kk": "Kazakh",
    "ky": "Kyrgyz",
    "tg": "Tajik",
    "tk": "Turkmen",
    "uz": "Uzbek",
}


def _known_languages(names: Any) -> Any:
    # Before the keys are read as the literal tags, so that the error says which key is wrong
    # and which are right, on the field itself.
    if isinstance(names, Mapping):
        unknown = [tag for tag in names if tag not in NAME_LANGUAGES]
        if unknown:
            raise ValueError(
                f"{unknown[0]!r} is not a language names are given in;"
                f" those are {', '.join(NAME_LANGUAGES)}"
            )
    return names


def _in_language_order(names: Mapping[str, Any]) -> dict[str, Any]:
    return {tag: names[tag] for tag in NAME_LANGUAGES if tag in names}


def _not_blank(name: str) -> str:
    if not name.strip():
        raise ValueError("a name cannot be blank")
    return name


CountryNames = Annotated[
    dict[
        NameLanguage,
        Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_not_blank)],
    ],
    BeforeValidator(_known_languages),
    AfterValidator(_in_language_order),
]


class CountryBase(SQLModel):
    id: Alpha3 = Field(primary_key=True)
    iso2: Alpha2 = Field(unique=True)
    iso_numeric: Annotated[str, StringConstraints(pattern=r"^\d{3}$")] = Field(unique=True)
    name: str
    capital: str
    region: Region = Field(sa_type=AutoString)
    names: CountryNames = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False, server_default="{}"),
        description="The country's name in the languages of the six countries, by BCP 47"
        " language tag: `zh` (Chinese, as written in China), `ru`, `kk`, `ky`, `tg`, `tk`,"
        " `uz`. From the ISO 3166-1 translations of the Debian iso-codes project as pycountry"
        " ships them, cited to that source. A language whose list has no translation of the"
        " name is left out, never filled with the English name; `{}` when none is known.",
    )


class Country(CountryBase, table=True):
    __table_args__ = (
        CheckConstraint("length(id) = 3 AND upper(id) = id", name="alpha3"),
        CheckConstraint("length(iso2) = 2 AND upper(iso2) = iso2", name="alpha2"),
        CheckConstraint("length(iso_numeric) = 3", name="iso_numeric"),
        CheckConstraint("region IN ('central-asia', 'east-asia')", name="region"),
    )


class CountryIn(CitedIn, CountryBase):
    @field_validator("iso2", "iso_numeric")
    @classmethod
    def _as_iso_3166_gives(cls, code: str, info: ValidationInfo) -> str:
        alpha3 = info.data.get("id")
        country = pycountry.countries.get(alpha_3=alpha3) if alpha3 else None
        if country is None:
            return code  # the id's own error says why
        expected = country.alpha_2 if info.field_name == "iso2" else country.numeric
        if code != expected:
            raise ValueError(f"ISO 3166-1 gives {alpha3} the code {expected}")
        return code

    @field_validator("id")
    @classmethod
    def _is_iso_3166(cls, alpha3: str | None) -> str | None:
        # In a POST body the id may still be missing: there is nothing to derive it from.
        if alpha3 is None or pycountry.countries.get(alpha_3=alpha3) is None:
            raise ValueError(f"{alpha3!r} is not an ISO 3166-1 alpha-3 code")
        return alpha3


class CountryPublic(Cited, CountryBase):
    pass


# --- people --------------------------------------------------------------------------------------


class PersonBase(SQLModel):
    id: Slug = Field(primary_key=True)
    name: str
    roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    country: Alpha3 | None = Field(default=None, foreign_key="country.id")


class Person(PersonBase, table=True):
    pass


class PersonIn(CitedIn, PersonBase):
    pass


class PersonPublic(Cited, PersonBase):
    pass


# --- summits -------------------------------------------------------------------------------------


class SummitBase(SQLModel):
    id: Slug = Field(primary_key=True)
    number: Annotated[int, Strict()] = Field(unique=True, ge=1, le=1_000_000)
    name: str
    city: str
    province: str | None = None
    host_country: Alpha3 = Field(foreign_key="country.id", index=True)
    start_date: dt.date
    end_date: dt.date
    notes: str | None = None


class Summit(SummitBase, table=True):
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_in_order"),
        CheckConstraint("number > 0", name="number_positive"),
    )


class SummitParticipant(SQLModel, table=True):
    __tablename__ = "summit_participant"

    summit_id: str = Field(foreign_key="summit.id", primary_key=True, ondelete="CASCADE")
    country_id: str = Field(foreign_key="country.id", primary_key=True, index=True)


class SummitAttendee(SQLModel, table=True):
    """A person the sources say attended a summit."""

    __tablename__ = "summit_attendee"

    summit_id: str = Field(foreign_key="summit.id", primary_key=True, ondelete="CASCADE")
    person_id: str = Field(foreign_key="person.id", primary_key=True, index=True)


class SummitIn(CitedIn, SummitBase):
    participants: list[Alpha3]
    attendees: list[Slug] = []

    @field_validator("end_date")
    @classmethod
    def _not_before_start(cls, end_date: dt.date, info: ValidationInfo) -> dt.date:
        start_date = info.data.get("start_date")
        if start_date is not None and end_date < start_date:
            raise ValueError("end_date is before start_date")
        return end_date


class SummitPublic(Cited, SummitBase):
    participants: list[str] = Field(description="Participating countries, alpha-3.")
    attendees: list[str] = Field(description="People the sources say attended, by id.")


# --- the mechanism -------------------------------------------------------------------------------


class MechanismBase(SQLModel):
    id: Slug = Field(primary_key=True)
    name: str
    established: PartialDate
    established_at: str
    announced_at_summit: Position | None = Field(default=None, foreign_key="summit.number")
    frequency: str
    rotation: str


class Mechanism(MechanismBase, table=True):
    pass


class MechanismIn(CitedIn, MechanismBase):
    pass


class MechanismPublic(Cited, MechanismBase):
    pass


# --- agreements ----------------------------------------------------------------------------------


class AgreementBase(SQLModel):
    id: Slug = Field(primary_key=True)
    title: str
    type: Annotated[str, StringConstraints(pattern=r"^[a-z]+(?:_[a-z]+)*$")]
    summit: Position = Field(foreign_key="summit.number", index=True)
    description: str | None = None


class Agreement(AgreementBase, table=True):
    pass


class AgreementSignatory(SQLModel, table=True):
    __tablename__ = "agreement_signatory"

    agreement_id: str = Field(foreign_key="agreement.id", primary_key=True, ondelete="CASCADE")
    country_id: str = Field(foreign_key="country.id", primary_key=True, index=True)


class AgreementIn(CitedIn, AgreementBase):
    signatories: list[Alpha3]


class AgreementPublic(Cited, AgreementBase):
    signatories: list[str]


# --- cooperation centers -------------------------------------------------------------------------


class CooperationCenterBase(SQLModel):
    id: Slug = Field(primary_key=True)
    name: str
    focus: str
    summit: Position = Field(foreign_key="summit.number", index=True)
    announced_by: Slug | None = Field(default=None, foreign_key="person.id")


class CooperationCenter(CooperationCenterBase, table=True):
    __tablename__ = "cooperation_center"


class CooperationCenterIn(CitedIn, CooperationCenterBase):
    pass


class CooperationCenterPublic(Cited, CooperationCenterBase):
    pass


# --- trade statistics ----------------------------------------------------------------------------


class TradeStatisticBase(SQLModel):
    id: Slug = Field(primary_key=True)
    year: YearNumber = Field(index=True)
    reporter: Alpha3 = Field(foreign_key="country.id")
    flow: Literal["total", "export", "import"] = Field(sa_type=AutoString)
    value: Count = Field(sa_type=BigInteger)
    currency: CurrencyCode = Field(index=True)
    value_as_stated: str | None = None
    record_high: StrictBool | None = Field(
        None, description="Whether the source calls it a record; null where it says nothing."
    )
    change_percent: Annotated[float, Strict(), Field(ge=-100, le=10**9)] | None = None
    change_base_year: YearNumber | None = None
    equivalent_of: Slug | None = Field(
        default=None,
        sa_column=deferred_reference("trade_statistic.id"),
        description="The record this one states again in another currency (the same total).",
    )


class TradeStatistic(TradeStatisticBase, table=True):
    __tablename__ = "trade_statistic"
    __table_args__ = (
        # The default order, so that a page by cursor is a range scan however deep it starts.
        Index("ix_trade_statistic_year_id", "year", "id"),
        # A filter on currency, and on currency and years, is read in that order too.
        Index("ix_trade_statistic_currency_year_id", "currency", "year", "id"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        CheckConstraint("length(currency) = 3 AND upper(currency) = currency", name="currency"),
        CheckConstraint("flow IN ('total', 'export', 'import')", name="flow"),
        CheckConstraint(
            "(change_percent IS NULL) = (change_base_year IS NULL)", name="change_has_base"
        ),
    )


class TradeStatisticPartner(SQLModel, table=True):
    __tablename__ = "trade_statistic_partner"

    trade_statistic_id: str = Field(
        foreign_key="trade_statistic.id", primary_key=True, ondelete="CASCADE"
    )
    country_id: str = Field(foreign_key="country.id", primary_key=True, index=True)


class TradeStatisticIn(CitedIn, TradeStatisticBase):
    @field_validator("currency")
    @classmethod
    def _is_iso_4217(cls, currency: str) -> str:
        if pycountry.currencies.get(alpha_3=currency) is None:
            raise ValueError(f"{currency!r} is not an ISO 4217 currency code")
        return currency

    partners: list[Alpha3]


class TradeStatisticPublic(Cited, TradeStatisticBase):
    partners: list[str]


# --- priority areas, principles, commitments -----------------------------------------------------


class PriorityAreaBase(SQLModel):
    id: Slug = Field(primary_key=True)
    name: str
    position: Position
    summit: Position = Field(foreign_key="summit.number", index=True)


class PriorityArea(PriorityAreaBase, table=True):
    __tablename__ = "priority_area"


class PriorityAreaIn(CitedIn, PriorityAreaBase):
    pass


class PriorityAreaPublic(Cited, PriorityAreaBase):
    pass


class PrincipleBase(SQLModel):
    id: Slug = Field(primary_key=True)
    name: str
    position: Position
    spirit: str
    summit: Position = Field(foreign_key="summit.number", index=True)


class Principle(PrincipleBase, table=True):
    pass


class PrincipleIn(CitedIn, PrincipleBase):
    pass


class PrinciplePublic(Cited, PrincipleBase):
    pass


class CommitmentBase(SQLModel):
    id: Slug = Field(primary_key=True)
    title: str
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z]+(?:_[a-z]+)*$")]
    description: str
    summit: Position = Field(foreign_key="summit.number", index=True)
    quantity: Count | None = None
    quantity_qualifier: str | None = None
    start: PartialDate | None = None
    end: PartialDate | None = None


class Commitment(CommitmentBase, table=True):
    pass


class CommitmentParty(SQLModel, table=True):
    __tablename__ = "commitment_party"

    commitment_id: str = Field(foreign_key="commitment.id", primary_key=True, ondelete="CASCADE")
    country_id: str = Field(foreign_key="country.id", primary_key=True, index=True)


class CommitmentIn(CitedIn, CommitmentBase):
    @field_validator("end")
    @classmethod
    def _not_before_start(cls, end: str | None, info: ValidationInfo) -> str | None:
        if not not_before(info.data.get("start"), end):
            raise ValueError("end is before start")
        return end

    parties: list[Alpha3]


class CommitmentPublic(Cited, CommitmentBase):
    parties: list[str]


# --- detail views: an entity with the related entities it embeds --------------------------------


class CountryDetail(CountryPublic):
    hosted_summits: list[SummitPublic]
    agreements: list[AgreementPublic]


class SummitDetail(SummitPublic):
    agreements: list[AgreementPublic]
    cooperation_centers: list[CooperationCenterPublic]
    priority_areas: list[PriorityAreaPublic]
    principles: list[PrinciplePublic]
    commitments: list[CommitmentPublic]


# --- the audit trail ------------------------------------------------------------------------------


WriteMethod = Literal["POST", "PUT", "PATCH", "DELETE"]


class ChangeBase(SQLModel):
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(description="When the write was accepted (UTC).")
    key_name: str = Field(description="The name of the API key that made the write.")
    method: WriteMethod = Field(sa_type=AutoString)
    collection: str
    entity_id: str = Field(index=True)
    before: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON), description="The entity before; null if created."
    )
    after: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON), description="The entity after; null if deleted."
    )
    dataset_version: int = Field(description="The dataset version this write produced.")


class Change(ChangeBase, table=True):
    """Every accepted write: who, when, what, and the entity before and after."""

    __tablename__ = "change"
    __table_args__ = (
        CheckConstraint("method IN ('POST', 'PUT', 'PATCH', 'DELETE')", name="method"),
    )


class ChangePublic(ChangeBase):
    id: int


# --- the dataset version -------------------------------------------------------------------------


class DatasetVersion(SQLModel, table=True):
    """One row whose `version` moves whenever the data changes."""

    __tablename__ = "dataset_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(default=1, primary_key=True)
    version: int = 0
    updated_at: dt.datetime
    # The first version at which the history holds the whole dataset: 0 where it was kept from
    # the start; for a database migrated to keep one, the version its current state became.
    history_from: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


# --- the history of every entity -----------------------------------------------------------------


Operation = Literal["create", "update", "delete"]


class EntityVersion(SQLModel, table=True):
    """Each change to an entity, the seed loader's included, at the dataset version it made:
    the public history behind the feed, `changed_since`, an entity's history and `as_of`.
    Unlike `Change`, it never says who made the change."""

    __tablename__ = "entity_version"
    __table_args__ = (
        CheckConstraint("op IN ('create', 'update', 'delete')", name="op"),
        Index("ix_entity_version_entity", "collection", "entity_id", "version"),
        Index("ix_entity_version_collection", "collection", "version"),
    )

    version: int = Field(
        primary_key=True,
        sa_column_kwargs={"autoincrement": False},
        description="The dataset version this change made.",
    )
    at: dt.datetime = Field(
        sa_type=DateTime(timezone=True), description="When the change was made (UTC)."
    )
    op: Operation = Field(sa_type=AutoString)
    collection: str
    entity_id: str
    # What addresses the entity in a URL (its id, a summit's number), as it was.
    key: str
    entity: dict[str, Any] | None = Field(
        default=None,
        sa_column=Column(JSON),
        description="The entity after the change, as the export holds it; null if deleted.",
    )
