"""``GET /metrics``: Prometheus's text format, no API key (expose it to the monitoring network only)."""

from __future__ import annotations

from flask import Blueprint, Response, request
from prometheus_client.exposition import choose_encoder

from omnibot import bootstrap
from omnibot.entrypoints.http.api.openapi import Operation, Reply, documented
from omnibot.entrypoints.http.api.operations import PROBES


def blueprint(services: bootstrap.Services) -> Blueprint:
    metrics = Blueprint("metrics", __name__)
    registry = bootstrap.metrics_registry(services)

    @metrics.get("/metrics")
    @documented(Operation(
        "Prometheus metrics (README, \"Operating omnibot\")", None,
        {200: Reply("The metrics in Prometheus's text format.", media_type="text/plain")}, None,
        tag=PROBES, operation_id="metrics",
    ))
    def scrape() -> Response:
        # Prometheus's text format unless the scraper asks for OpenMetrics.
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encode(registry), content_type=content_type)

    return metrics
