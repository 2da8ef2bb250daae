"""The floor: the least an HTTP intake can do, to measure omnibot against.

Flask under the same gunicorn settings as ``omnibot serve``; per request, a header check, a JSON
parse and one ``INSERT … RETURNING`` (psycopg 3, one connection per server thread) into tables
of its own. No validation, no phone parsing, no idempotency, no logging beyond gunicorn's.

    python -m bench.floor_app --port 5002 --database-url postgresql://... --workers 5
    python -m bench.floor_app --create-tables --database-url postgresql://...
"""

from __future__ import annotations

import argparse
import hmac
import json
import threading

import psycopg
from flask import Flask, Response, request

from bench.serving import serve

TABLES = """
CREATE TABLE IF NOT EXISTS floor_notifications (
    id bigserial PRIMARY KEY, phone text, order_id text, items jsonb,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS floor_updates (
    update_id bigint PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
"""


def create_app(database_url: str, api_key: str, webhook_secret: str) -> Flask:
    app = Flask("floor")
    local = threading.local()

    def connection() -> psycopg.Connection[tuple[object, ...]]:
        if getattr(local, "connection", None) is None or local.connection.closed:
            local.connection = psycopg.connect(database_url, autocommit=True)
        conn: psycopg.Connection[tuple[object, ...]] = local.connection
        return conn

    @app.post("/v1/notifications")
    def notifications() -> Response:
        if not hmac.compare_digest(request.headers.get("X-Internal-API-Key", "").encode(), api_key.encode()):
            return Response('{"error": "unauthorized"}', 401, content_type="application/json")
        body = request.get_json()
        row = connection().execute(
            "INSERT INTO floor_notifications (phone, order_id, items) VALUES (%s, %s, %s) RETURNING id, created_at",
            (body.get("phone"), body.get("order_id"), json.dumps(body.get("items", []))),
        ).fetchone()
        assert row is not None
        answer = {"id": row[0], "status": "queued", "created_at": row[1].isoformat()}  # type: ignore[attr-defined]
        return Response(json.dumps(answer), 202, content_type="application/json")

    @app.post("/webhook/telegram")
    def telegram() -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), webhook_secret.encode()):
            return Response('{"error": "unauthorized"}', 401, content_type="application/json")
        raw = request.get_data()
        update = json.loads(raw)
        connection().execute(
            "INSERT INTO floor_updates (update_id, body) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING update_id",
            (update["update_id"], raw.decode()),
        ).fetchone()
        return Response('{"ok": true}', 200, content_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--create-tables", action="store_true", help="Create the floor's tables and exit.")
    parser.add_argument("--port", type=int, default=5002)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--api-key", default="bench-internal-key")
    parser.add_argument("--webhook-secret", default="sandbox-webhook-secret")
    args = parser.parse_args()
    if args.create_tables:
        with psycopg.connect(args.database_url, autocommit=True) as connection:
            connection.execute(TABLES)
        return
    serve(lambda: create_app(args.database_url, args.api_key, args.webhook_secret), "127.0.0.1", args.port,
          args.workers)


if __name__ == "__main__":
    main()
