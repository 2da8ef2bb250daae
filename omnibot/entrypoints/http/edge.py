"""The HTTP edge as configured: body size limit, trusted proxy headers, request ids."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from omnibot.entrypoints.http import request_ids
from omnibot.settings import Settings


def configure(app: Flask, settings: Settings) -> None:
    # Werkzeug answers a larger body with 413 (JSON, through errors.py) before the view reads it.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    hops = settings.trusted_proxy_count
    if hops:
        # Only this many proxies' X-Forwarded-* are believed: more would let a client forge its address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,  # type: ignore[method-assign]
                                x_prefix=hops)
    request_ids.register(app)
