"""What the landing page shows: the dataset, its source, the summits, the key figures, the
timeline (drawn), every collection, and the downloads."""

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app.api.routes.dataset import timeline_events
from app.api.routes.index import DESCRIPTION, NAME, collection_url
from app.api.urls import page_path
from app.config import API_PREFIX
from app.data.reads import all_entities, collection_size
from app.data.registry import BY_NAME, COLLECTIONS

# The drawing's coordinate space; the SVG scales to the page's width.
WIDTH, HEIGHT, MARGIN = 800, 120, 40
DRAWING = {"width": WIDTH, "height": HEIGHT, "margin": MARGIN}


@dataclass(frozen=True)
class TimelineMark:
    """One date on the drawn timeline and what happened then."""

    date: str
    x: float
    events: list[dict[str, Any]]


def _as_year(date: str) -> float:
    """2025-06-17 as 2025.46; a month or a year alone at its start."""
    year, month, day = [*map(int, date.split("-")), 1, 1][:3]
    start = dt.date(year, 1, 1)
    return year + (dt.date(year, month, day) - start).days / 366


def timeline_marks(events: list[dict[str, Any]]) -> list[TimelineMark]:
    """The events grouped by date, each date placed along the drawing's width."""
    by_date: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_date[event["date"]].append(event)
    if not by_date:
        return []
    years = [_as_year(date) for date in by_date]
    first, last = min(years), max(years)
    span = (last - first) or 1.0
    return [
        TimelineMark(date, MARGIN + (_as_year(date) - first) / span * (WIDTH - 2 * MARGIN), group)
        for date, group in by_date.items()
    ]


def web_address(url: str | None) -> bool:
    """Whether a stored URL may be linked: the web's own schemes only (never `javascript:`)."""
    return url is not None and url.lower().startswith(("https://", "http://"))


def _json_ld(articles: list[dict[str, Any]], events: list[dict[str, Any]]) -> str:
    """schema.org's `Dataset`, as the text of a script data block."""
    dataset = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "name": NAME,
        "description": DESCRIPTION,
        "url": "/",
        "isBasedOn": [
            {
                "@type": "NewsArticle",
                "name": article["title"],
                **({"url": article["url"]} if web_address(article.get("url")) else {}),
                **({"publisher": article["publisher"]} if article.get("publisher") else {}),
            }
            for article in articles
        ],
        "temporalCoverage": f"{events[0]['date']}/{events[-1]['date']}" if events else None,
        "distribution": [
            {"@type": "DataDownload", "encodingFormat": "application/json",
             "contentUrl": f"{API_PREFIX}/export"},
            {"@type": "DataDownload", "encodingFormat": "application/vnd.datapackage+json",
             "contentUrl": f"{API_PREFIX}/datapackage.json"},
            *({"@type": "DataDownload", "encodingFormat": "text/csv", "name": c.name,
               "contentUrl": f"{API_PREFIX}/export/{c.name}"} for c in COLLECTIONS),
        ],
    }  # fmt: skip
    # No `<`, `>` or `&` at all, which could end or confuse the block: JSON's own escapes.
    text = json.dumps(dataset, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def landing_context(session: Session) -> dict[str, Any]:
    events = timeline_events(session)
    for event in events:
        event["page"] = page_path(event["url"])
    articles = [s for s in all_entities(session, BY_NAME["sources"]) if s["type"] == "article"]
    return {
        "json_ld": _json_ld(articles, events),
        "name": NAME,
        "description": DESCRIPTION,
        "articles": articles,
        "web_address": web_address,
        "summits": all_entities(session, BY_NAME["summits"]),
        "trade": all_entities(session, BY_NAME["trade-statistics"]),
        "outcomes": [c for c in all_entities(session, BY_NAME["commitments"]) if c["quantity"]],
        "collections": [
            {
                "name": c.name,
                "title": c.description or c.name,
                "count": collection_size(session, c),
                "url": f"/{c.name}",
                "json": collection_url(c.name),
                "csv": f"{API_PREFIX}/export/{c.name}",
            }
            for c in COLLECTIONS
        ],
        "marks": timeline_marks(events),
        "events": events,
        "drawing": DRAWING,
        "downloads": {
            "export": f"{API_PREFIX}/export",
            "datapackage": f"{API_PREFIX}/datapackage.json",
            "feed": f"{API_PREFIX}/feed",
            "docs": "/docs",
            "openapi": "/openapi.json",
        },
    }
