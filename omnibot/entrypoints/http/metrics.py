"""``GET /metrics``: Prometheus's text format, no API key (expose it to the monitoring network only)."""

from __future__ import annotations

from flask import Blueprint, Response, request
from prometheus_client.exposition import choose_encoder

from omnibot import bootstrap


def blueprint(services: bootstrap.Services) -> Blueprint:
    metrics = Blueprint("metrics", __name__)
    registry = bootstrap.metrics_registry(services)

    @metrics.get("/metrics")
    def scrape() -> Response:
        # Prometheus's text format unless the scraper asks for OpenMetrics.
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encode(registry), content_type=content_type)

    return metrics
