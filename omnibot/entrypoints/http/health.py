"""Liveness and readiness probes for orchestrators; no API key, cheap."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from omnibot.bootstrap import Services
from omnibot.domain.errors import StoreError

log = logging.getLogger(__name__)


def blueprint(services: Services) -> Blueprint:
    health = Blueprint("health", __name__)

    @health.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @health.get("/readyz")
    def readyz() -> Response | tuple[Response, int]:
        try:
            current = services.schema_is_current()
        except StoreError as exc:
            log.warning("readyz.database_unreachable error=%s", exc.reason)
            return jsonify({"status": "unavailable", "database": "unreachable"}), 503
        if not current:
            return jsonify({"status": "unavailable", "database": "migrations pending"}), 503
        return jsonify({"status": "ok", "database": "ok"})

    return health
