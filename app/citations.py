"""Citations: finding each quote in its source's stored text."""

from collections.abc import Mapping, Sequence

from app.models import CitationIn, CitationPublic


class CitationError(ValueError):
    """A citation that cannot be pinned to one place in its source's text."""

    def __init__(self, citation: CitationIn, reason: str) -> None:
        self.citation = citation
        self.reason = reason
        quote = f"{citation.quote!r}" if citation.quote is not None else "(no quote)"
        super().__init__(f"citation of {citation.source!r} quoting {quote}: {reason}")


def resolve(citation: CitationIn, texts: Mapping[str, str | None]) -> CitationPublic:
    """`citation` with the offsets of its quote in `texts[citation.source]`.

    Offsets the citation already gives must point at the quote; without them the quote must
    occur exactly once. A source without stored text takes no quote.
    """
    if citation.source not in texts:
        raise CitationError(citation, "no such source")
    text = texts[citation.source]
    if text is None:
        if citation.quote is not None or citation.start is not None or citation.end is not None:
            raise CitationError(citation, "this source has no stored text to quote")
        return CitationPublic(source=citation.source, quote=None, start=None, end=None)
    quote = citation.quote
    if not quote:
        raise CitationError(citation, "a quote is required for a source with stored text")
    if citation.start is not None or citation.end is not None:
        start, end = citation.start, citation.end
        if start is None or end is None or text[start:end] != quote:
            raise CitationError(citation, f"text[{start}:{end}] is not the quote")
        return CitationPublic(source=citation.source, quote=quote, start=start, end=end)
    start = text.find(quote)
    if start < 0:
        raise CitationError(citation, "quote not found in the source's text")
    if text.find(quote, start + 1) >= 0:
        raise CitationError(
            citation, f"quote is ambiguous: it occurs {text.count(quote)} times; give start/end"
        )
    return CitationPublic(source=citation.source, quote=quote, start=start, end=start + len(quote))


def resolve_all(
    citations: Sequence[CitationIn], texts: Mapping[str, str | None]
) -> list[CitationPublic]:
    return [resolve(citation, texts) for citation in citations]
