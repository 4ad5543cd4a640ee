"""Small helpers shared by the pure ASGI middleware."""

from starlette.types import ASGIApp, Receive, Scope, Send


def header(scope: Scope, name: bytes) -> str:
    """The first value of request header `name` (lower-case bytes), or ""."""
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == name), "")


class HTTPMiddleware:
    """Passes anything but HTTP through; subclasses implement `handle` for HTTP requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
