"""Citations: finding each quote in its source's stored text, with the text around it."""

from collections.abc import Mapping, Sequence

from app.data.provenance import context_of
from app.data.tables import CitationIn, CitationPublic


class CitationError(ValueError):
    """A citation that cannot be pinned to one place in its source's text."""

    def __init__(self, citation: CitationIn, reason: str) -> None:
        self.citation = citation
        self.reason = reason
        quote = f"{citation.quote!r}" if citation.quote is not None else "(no quote)"
        super().__init__(f"citation of {citation.source!r} quoting {quote}: {reason}")


def _offsets(citation: CitationIn, text: str) -> tuple[int, int]:
    """Where the quote stands: at the offsets given, which must hold it, or else at its one
    occurrence in `text`."""
    quote = citation.quote
    if not quote:
        raise CitationError(citation, "a quote is required for a source with stored text")
    if citation.start is not None or citation.end is not None:
        start, end = citation.start, citation.end
        if start is None or end is None or text[start:end] != quote:
            raise CitationError(citation, f"text[{start}:{end}] is not the quote")
        return start, end
    start = text.find(quote)
    if start < 0:
        raise CitationError(citation, "quote not found in the source's text")
    if text.find(quote, start + 1) >= 0:
        raise CitationError(
            citation, f"quote is ambiguous: it occurs {text.count(quote)} times; give start/end"
        )
    return start, start + len(quote)


def resolve(citation: CitationIn, texts: Mapping[str, str | None]) -> CitationPublic:
    """`citation` with the offsets of its quote in `texts[citation.source]` and the text
    around it, cut from that text: a `prefix` or `suffix` the citation gives is not taken (an
    export carries them; the text may have changed around the quote since). A source without
    stored text takes no quote."""
    if citation.source not in texts:
        raise CitationError(citation, "no such source")
    text = texts[citation.source]
    provenance = {"fields": citation.fields, "said_by": citation.said_by}
    if text is None:
        if citation.quote is not None or citation.start is not None or citation.end is not None:
            raise CitationError(citation, "this source has no stored text to quote")
        return CitationPublic(
            source=citation.source,
            quote=None,
            start=None,
            end=None,
            prefix=None,
            suffix=None,
            **provenance,
        )
    start, end = _offsets(citation, text)
    prefix, suffix = context_of(text, start, end)
    return CitationPublic(
        source=citation.source,
        quote=text[start:end],
        start=start,
        end=end,
        prefix=prefix,
        suffix=suffix,
        **provenance,
    )


def resolve_all(
    citations: Sequence[CitationIn], texts: Mapping[str, str | None]
) -> list[CitationPublic]:
    return [resolve(citation, texts) for citation in citations]
