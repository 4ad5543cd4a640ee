"""Pages as HTML: the Jinja2 templates, the stylesheet they share, and what every page answers
with (its own Content-Security-Policy: styles from this service only, no script at all)."""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.api.rendering import accepted_weights, quality_of

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

# Nothing runs; the stylesheet comes from here; forms go only here; nobody frames a page.
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'"
)


def wants_html(request: Request) -> bool:
    """Whether the client prefers a page to JSON: a browser names `text/html` above the rest;
    curl's `*/*` is JSON."""
    weights = accepted_weights(request.headers.get("accept", ""))
    html = weights.get("text/html", 0.0)
    return html > 0 and html > quality_of(weights, "application/json")


def page(
    request: Request, template: str, context: dict[str, Any], *, alternate: str
) -> HTMLResponse:
    """A page rendered from `template`, linking `alternate`, its JSON."""
    response = templates.TemplateResponse(
        request, template, {"alternate": alternate, **context}, headers={"Vary": "Accept"}
    )
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response
