"""Liveness and readiness probes for orchestrators; no API key, cheap."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from omnibot.bootstrap import Services
from omnibot.domain.errors import StoreError
from omnibot.entrypoints.http.api.openapi import Operation, Reply, documented
from omnibot.entrypoints.http.api.operations import PROBES
from omnibot.entrypoints.http.api.responses import Liveness, Readiness

log = logging.getLogger(__name__)


def blueprint(services: Services) -> Blueprint:
    health = Blueprint("health", __name__)

    @health.get("/healthz")
    @documented(Operation("Liveness: the process answers", None, {200: Reply("Alive.", Liveness)}, None,
                          tag=PROBES, operation_id="healthz"))
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @health.get("/readyz")
    @documented(Operation(
        "Readiness: database reachable and schema current", None,
        {200: Reply("Ready.", Readiness), 503: Reply("Not ready; `database` says why.", Readiness)}, None,
        tag=PROBES, operation_id="readyz",
    ))
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
