"""The collections of the API, each declared once: its table, its shapes, its filters and sorts.

Everything generic (listing, filtering, sorting, paging, lookup, citations, export, search, the
routes themselves) is written once against `Collection`; what differs between collections is
what this module declares.
"""

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from pydantic import (
    BaseModel,
)
from sqlalchemy import ColumnElement, Select, Table, false, or_, select
from sqlmodel import Session, SQLModel, col

from app.data import tables as m

# A summit's number in a path: plain ASCII digits, no leading zero, in a summit number's range.
SUMMIT_NUMBER_PATH = re.compile(r"[1-9][0-9]{0,5}")


def country_ids(code: str) -> Select[Any]:
    """The alpha-3 id of the country `code` names, as a subquery (empty when none)."""
    code = code.upper()
    return select(col(m.Country.id)).where(
        or_(col(m.Country.id) == code, col(m.Country.iso2) == code)
    )


@dataclass(frozen=True)
class ListField:
    """A list-valued field kept in an association table: `field` lists `value` per `owner`."""

    field: str
    table: type[SQLModel]
    owner: str
    value: str

    def owners_with(self, value_ids: Select[Any]) -> Select[Any]:
        return select(getattr(self.table, self.owner)).where(
            getattr(self.table, self.value).in_(value_ids)
        )


Filter = Callable[[Any], ColumnElement[bool]]
# What a record must satisfy beyond its shape and references, read against the database:
# (field, why) for each breach.
Rule = Callable[[Session, Mapping[str, Any]], list[tuple[str, str]]]


@dataclass(frozen=True)
class Embed:
    """Entities of `collection` shown in another's detail view, where `related(item)` holds."""

    field: str
    collection: str
    related: Callable[[Mapping[str, Any]], ColumnElement[bool]]


# Finds the entity of another collection (by its table) that a key from a field names.
Related = Callable[[type[SQLModel], Any], Mapping[str, Any]]
# The events an entity puts on the timeline: each its `date`, `title` and, as needed,
# `end_date` and `note` (how a derived date was derived).
EventsOf = Callable[[Mapping[str, Any], Related], Iterable[dict[str, Any]]]


@dataclass(frozen=True)
class OnTimeline:
    """How a collection's entities appear on the timeline; on one date, a lower `rank` comes
    first (an event before what happened at it: the summit before its signings)."""

    events: EventsOf
    rank: int


@dataclass(frozen=True)
class Collection:
    """One collection of the API and everything the generic machinery needs to serve it."""

    name: str
    singular: str
    table: type[SQLModel]
    public: type[BaseModel]
    create: type[BaseModel]
    title: Callable[[Mapping[str, Any]], str]
    sortable: tuple[str, ...]
    default_sort: tuple[str, ...] = ("id",)
    filters: Mapping[str, Filter] = field(default_factory=dict)
    lists: tuple[ListField, ...] = ()
    # The detail view's shape and the related entities it embeds, when it has more than an item.
    detail: type[BaseModel] | None = None
    embeds: tuple["Embed", ...] = ()
    path_param: str = "id"
    # One entity, served at the collection's own path rather than as a list.
    singleton: bool = False
    # The field that addresses an entity (its id, a summit's number), and the condition that
    # finds it by such a key (None: the id, exactly).
    url_key: str = "id"
    find_by_key: Callable[[str], ColumnElement[bool]] | None = None
    description: str = ""
    # Whether its values need support (`app.data.provenance`): false for what is cited itself.
    cited: bool = True
    # Whether its entities hold the texts that citations quote (then no text may change under
    # a quote that stands on it).
    quoted: bool = False
    rules: tuple[Rule, ...] = ()
    timeline: OnTimeline | None = None
    # The fields an id omitted in a POST is the slug of, where the title is not a natural key
    # (empty: the title); a list's values in sorted order, so one set gives one id.
    natural_key: tuple[str, ...] = ()
    # The fields its page for people counts the values of, unless the query names others.
    facets: tuple[str, ...] = ()

    def derived_id_source(self, record: Mapping[str, Any]) -> str:
        """The text an omitted id is the slug of; KeyError or TypeError when the record lacks
        what it derives from."""
        if not self.natural_key:
            return self.title(record)
        values = [record[name] for name in self.natural_key]
        return " ".join(
            " ".join(sorted(map(str, v))) if isinstance(v, list) else str(v) for v in values
        )

    @property
    def id_column(self) -> ColumnElement[str]:
        return m.table_of(self.table).c.id

    def lookup(self, key: str) -> ColumnElement[bool]:
        """The condition that finds the entity `key` (from a URL) names."""
        if "\x00" in key:  # names nothing, and PostgreSQL refuses to compare such text
            return false()
        if self.find_by_key is not None:
            return self.find_by_key(key)
        return self.id_column == key


SUMMIT_PARTICIPANTS = ListField("participants", m.SummitParticipant, "summit_id", "country_id")
SUMMIT_ATTENDEES = ListField("attendees", m.SummitAttendee, "summit_id", "person_id")
AGREEMENT_SIGNATORIES = ListField("signatories", m.AgreementSignatory, "agreement_id", "country_id")
TRADE_PARTNERS = ListField("partners", m.TradeStatisticPartner, "trade_statistic_id", "country_id")
COMMITMENT_PARTIES = ListField("parties", m.CommitmentParty, "commitment_id", "country_id")


def _country_by_code(code: str) -> ColumnElement[bool]:
    return col(m.Country.id).in_(country_ids(code))


def _summit_by_number_or_slug(key: str) -> ColumnElement[bool]:
    if SUMMIT_NUMBER_PATH.fullmatch(key):
        return col(m.Summit.number) == int(key)
    return col(m.Summit.id) == key


def _restates_an_original(session: Session, statistic: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`equivalent_of` names the figure as first reported, in another currency: not the record
    itself, not a record that is an equivalent too, and never from a record that others
    restate (no chains, no cycles)."""
    original_id = statistic.get("equivalent_of")
    if original_id is None:
        return []
    if original_id == statistic["id"]:
        return [("equivalent_of", "a figure cannot be the equivalent of itself")]
    original = session.get(m.TradeStatistic, original_id)
    restated_by = session.scalars(
        select(col(m.TradeStatistic.id)).where(
            col(m.TradeStatistic.equivalent_of) == statistic["id"]
        )
    ).first()
    if restated_by is not None:
        return [("equivalent_of", f"{restated_by!r} restates this figure: it is an original")]
    if original is None:
        return []  # the reference check names it
    if original.equivalent_of is not None:
        return [
            (
                "equivalent_of",
                f"{original_id!r} restates {original.equivalent_of!r}: name the original",
            )
        ]
    if original.currency == statistic["currency"]:
        return [("equivalent_of", f"{original_id!r} is in {original.currency} too")]
    return []


def _year_of(column: Any) -> Filter:
    return lambda year: column.between(dt.date(year, 1, 1), dt.date(year, 12, 31))


def _of_summit(table: Any) -> Callable[[Mapping[str, Any]], ColumnElement[bool]]:
    return lambda summit: table.summit == summit["number"]


def _established(mechanism: Mapping[str, Any], _: Related) -> Iterable[dict[str, Any]]:
    yield {"date": mechanism["established"], "title": f"{mechanism['name']} established"}


def _held(summit: Mapping[str, Any], _: Related) -> Iterable[dict[str, Any]]:
    yield {**_dates_of(summit), "title": summit["name"]}


def _signed(agreement: Mapping[str, Any], related: Related) -> Iterable[dict[str, Any]]:
    summit = related(m.Summit, agreement["summit"])
    yield {
        **_dates_of(summit),
        "title": f"Signing of the {agreement['title']}",
        "note": f"Dated by the summit at which it was signed ({summit['name']}).",
    }


def _dates_of(summit: Mapping[str, Any]) -> dict[str, str]:
    return {"date": summit["start_date"].isoformat(), "end_date": summit["end_date"].isoformat()}


def _runs(commitment: Mapping[str, Any], _: Related) -> Iterable[dict[str, Any]]:
    if commitment["start"]:
        yield {
            "date": commitment["start"],
            "end_date": commitment["end"],
            "title": commitment["title"],
        }


def _record_high(statistic: Mapping[str, Any], _: Related) -> Iterable[dict[str, Any]]:
    if statistic["record_high"]:
        yield {"date": str(statistic["year"]), "title": f"Record high: {_trade_title(statistic)}"}


def _trade_title(statistic: Mapping[str, Any]) -> str:
    return f"China–Central Asia trade {statistic['year']}: {statistic['value_as_stated']}"


COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        name="sources",
        singular="source",
        table=m.Source,
        public=m.SourcePublic,
        create=m.SourceIn,
        title=itemgetter("title"),
        sortable=("id", "title", "type", "publisher", "published"),
        detail=m.SourceDetail,
        description="The article and every reference source cited.",
        # A source's metadata describe the source itself: it is what citations point at.
        cited=False,
        quoted=True,
        facets=("type", "publisher"),
    ),
    Collection(
        name="countries",
        singular="country",
        table=m.Country,
        public=m.CountryPublic,
        create=m.CountryIn,
        title=itemgetter("name"),
        sortable=("id", "iso2", "iso_numeric", "name", "capital", "region"),
        filters={"region": lambda region: m.Country.region == region},
        detail=m.CountryDetail,
        embeds=(
            Embed("hosted_summits", "summits", lambda c: m.Summit.host_country == c["id"]),
            Embed(
                "agreements",
                "agreements",
                lambda c: col(m.Agreement.id).in_(
                    select(col(m.AgreementSignatory.agreement_id)).where(
                        m.AgreementSignatory.country_id == c["id"]
                    )
                ),
            ),
        ),
        path_param="code",
        find_by_key=_country_by_code,
        description="China and the five Central Asian countries.",
        facets=("region",),
    ),
    Collection(
        name="people",
        singular="person",
        table=m.Person,
        public=m.PersonPublic,
        create=m.PersonIn,
        title=itemgetter("name"),
        sortable=("id", "name", "country"),
        description="The people the sources name.",
        facets=("country", "roles"),
    ),
    Collection(
        name="summits",
        singular="summit",
        table=m.Summit,
        public=m.SummitPublic,
        create=m.SummitIn,
        title=itemgetter("name"),
        sortable=("id", "number", "name", "city", "host_country", "start_date", "end_date"),
        default_sort=("number",),
        filters={
            "year": _year_of(m.Summit.start_date),
            "host": lambda code: col(m.Summit.host_country).in_(country_ids(code)),
        },
        lists=(SUMMIT_PARTICIPANTS, SUMMIT_ATTENDEES),
        detail=m.SummitDetail,
        embeds=tuple(
            Embed(name.replace("-", "_"), name, _of_summit(table))
            for name, table in (
                ("agreements", m.Agreement),
                ("cooperation-centers", m.CooperationCenter),
                ("priority-areas", m.PriorityArea),
                ("principles", m.Principle),
                ("commitments", m.Commitment),
            )
        ),
        path_param="number",
        url_key="number",
        find_by_key=_summit_by_number_or_slug,
        timeline=OnTimeline(_held, rank=1),
        description="The China–Central Asia summits, by number.",
        facets=("host_country", "participants"),
    ),
    Collection(
        name="mechanism",
        singular="mechanism",
        table=m.Mechanism,
        public=m.MechanismPublic,
        create=m.MechanismIn,
        title=itemgetter("name"),
        sortable=("id",),
        singleton=True,
        timeline=OnTimeline(_established, rank=0),
        description="The summit mechanism.",
    ),
    Collection(
        name="agreements",
        singular="agreement",
        table=m.Agreement,
        public=m.AgreementPublic,
        create=m.AgreementIn,
        title=itemgetter("title"),
        sortable=("id", "title", "type", "summit"),
        filters={
            "summit": lambda number: m.Agreement.summit == number,
            "signatory": lambda code: col(m.Agreement.id).in_(
                AGREEMENT_SIGNATORIES.owners_with(country_ids(code))
            ),
        },
        lists=(AGREEMENT_SIGNATORIES,),
        timeline=OnTimeline(_signed, rank=2),
        description="Agreements signed at the summits.",
        facets=("type", "summit", "signatories"),
    ),
    Collection(
        name="cooperation-centers",
        singular="cooperation center",
        table=m.CooperationCenter,
        public=m.CooperationCenterPublic,
        create=m.CooperationCenterIn,
        title=itemgetter("name"),
        sortable=("id", "name", "focus", "summit", "announced_by"),
        description="Cooperation centers announced at the summits.",
        facets=("summit", "announced_by"),
    ),
    Collection(
        name="trade-statistics",
        singular="trade statistic",
        table=m.TradeStatistic,
        public=m.TradeStatisticPublic,
        create=m.TradeStatisticIn,
        title=_trade_title,
        natural_key=("reporter", "partners", "flow", "year", "currency"),
        sortable=("id", "year", "reporter", "flow", "value", "currency", "change_percent"),
        default_sort=("year", "id"),
        filters={
            "year": lambda year: m.TradeStatistic.year == year,
            "year_from": lambda year: m.TradeStatistic.year >= year,
            "year_to": lambda year: m.TradeStatistic.year <= year,
            "currency": lambda code: m.TradeStatistic.currency == code.upper(),
            "partner": lambda code: col(m.TradeStatistic.id).in_(
                TRADE_PARTNERS.owners_with(country_ids(code))
            ),
        },
        lists=(TRADE_PARTNERS,),
        rules=(_restates_an_original,),
        timeline=OnTimeline(_record_high, rank=4),
        description="Trade figures, each in one currency.",
        facets=("currency", "year", "flow", "reporter"),
    ),
    Collection(
        name="priority-areas",
        singular="priority area",
        table=m.PriorityArea,
        public=m.PriorityAreaPublic,
        create=m.PriorityAreaIn,
        title=itemgetter("name"),
        sortable=("id", "name", "position", "summit"),
        default_sort=("summit", "position"),
        description="The priority areas of cooperation.",
        facets=("summit",),
    ),
    Collection(
        name="principles",
        singular="principle",
        table=m.Principle,
        public=m.PrinciplePublic,
        create=m.PrincipleIn,
        title=itemgetter("name"),
        sortable=("id", "name", "position", "summit"),
        default_sort=("summit", "position"),
        description="The aspects of the China–Central Asia Spirit.",
        facets=("summit",),
    ),
    Collection(
        name="commitments",
        singular="commitment",
        table=m.Commitment,
        public=m.CommitmentPublic,
        create=m.CommitmentIn,
        title=itemgetter("title"),
        sortable=("id", "title", "kind", "summit", "quantity", "start", "end"),
        lists=(COMMITMENT_PARTIES,),
        timeline=OnTimeline(_runs, rank=3),
        description="Everything else pledged, designated, agreed or achieved.",
        facets=("kind", "summit", "parties"),
    ),
)

BY_NAME: dict[str, Collection] = {collection.name: collection for collection in COLLECTIONS}
# Each collection by its table, and by the association tables of its list-valued fields.
BY_TABLE: dict[Table, Collection] = {m.table_of(c.table): c for c in COLLECTIONS}
LIST_BY_TABLE: dict[Table, tuple[Collection, ListField]] = {
    m.table_of(link.table): (c, link) for c in COLLECTIONS for link in c.lists
}
# The collections whose entities appear on the timeline, in the order of their events on a date.
ON_TIMELINE: tuple[Collection, ...] = tuple(
    sorted(
        (c for c in COLLECTIONS if c.timeline), key=lambda c: c.timeline.rank if c.timeline else 0
    )
)
# The collection whose entities hold the texts that citations quote.
(QUOTED,) = [c for c in COLLECTIONS if c.quoted]


@dataclass(frozen=True)
class Reference:
    """A column of a collection's table that names an entity of another by one of its fields."""

    field: str
    collection: Collection
    target_field: str


def references_of(collection: Collection) -> list[Reference]:
    """The foreign keys of a collection's own table (not of its list fields' tables), as the
    fields of the collections they join."""
    references = []
    for column in m.table_of(collection.table).columns:
        for key in column.foreign_keys:
            target = BY_TABLE.get(key.column.table)
            if target is not None:
                references.append(Reference(column.name, target, key.column.name))
    return references


def named_collections(collection: Collection) -> dict[str, Collection]:
    """The fields of `collection` whose values name entities of a collection, by foreign key:
    the columns of its own table and its list-valued fields."""
    named = {reference.field: reference.collection for reference in references_of(collection)}
    for link in collection.lists:
        for key in m.table_of(link.table).c[link.value].foreign_keys:
            if key.column.table in BY_TABLE:
                named[link.field] = BY_TABLE[key.column.table]
    return named


def reads_of(collection: Collection) -> frozenset[str]:
    """The collections whose changes can change an answer about `collection`'s entities (a
    list, a detail, their pages): its own; those its detail embeds; those its fields name
    (whose titles its pages show, whose codes its filters take); the sources its quotes are
    cut from, and the people they are said by (whose names its pages show)."""
    names = {collection.name, QUOTED.name, *(embed.collection for embed in collection.embeds)}
    if collection.cited:
        names.add("people")
    names |= {target.name for target in named_collections(collection).values()}
    return frozenset(names)
