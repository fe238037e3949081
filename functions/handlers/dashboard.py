"""``GET /dashboard``: the staff dashboard page. It holds no data, so it needs no login itself:
its script calls the staff API with the bearer token the user enters (kept in sessionStorage)."""
from __future__ import annotations

import functools
import secrets
from pathlib import Path

from chalice import Response

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "dashboard" / "dashboard.html.j2"


@functools.cache
def _template():  # jinja2 loads on first use: `import app` stays cheap
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    return env.from_string(TEMPLATE.read_text(encoding="utf-8"))


def page() -> Response:
    from functions.config import load_config

    nonce = secrets.token_urlsafe(16)
    # The reports' zone (no data): the chart asks for "today" as the brand's day, not the browser's or UTC's.
    body = _template().render(nonce=nonce, report_timezone=load_config().reports.timezone)
    csp = ("default-src 'none'; "
           f"script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
           "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return Response(body=body, status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})
