"""The Space's Content-Security-Policy: the browser loads nothing from another origin.

Every response of the Gradio app carries the header below. Images only from the app itself (and
``data:``/``blob:`` URLs, which Gradio's plots use), no frames, no objects, scripts and styles from
the app itself only (Gradio's page needs its inline boot script and ``eval`` for its HTML templates
and Vega plots, both of the app's own code), connections to the app only. Together with
:mod:`.sanitize` (no ``img`` or ``iframe`` survives in untrusted text) this is two walls, each
enough on its own for what the Space renders.
"""

from __future__ import annotations

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "media-src 'self' data: blob:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "frame-src 'none'",
        "child-src 'none'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)


class ContentSecurityPolicy:
    """ASGI middleware adding :data:`POLICY` (and ``X-Content-Type-Options: nosniff``) to every HTTP response."""

    def __init__(self, app, policy: str = POLICY):
        self.app, self.policy = app, policy

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_policy(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
                headers += [
                    (b"content-security-policy", self.policy.encode()),
                    (b"x-content-type-options", b"nosniff"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, send_with_policy)


def app_kwargs() -> dict:
    """``demo.launch(app_kwargs=...)``: the FastAPI app Gradio creates gets the policy middleware."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(ContentSecurityPolicy)]}
