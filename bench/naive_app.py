"""The naive synchronous design the seed README describes, to measure omnibot's fan-out against.

``POST /trigger-notification``: look the customer up by phone, call Telegram's sendMessage (or
Viber's send_message) inside the request, answer ``{"status": "Sent via Telegram"}``. Same
gunicorn settings as ``omnibot serve``; it reads omnibot's own ``contacts`` table, so it reaches
the same customers. Its best case: one ``requests.Session`` (keep-alive) per server thread.

    python -m bench.naive_app --port 5003 --database-url postgresql://... --telegram-api URL/bot<token>
"""

from __future__ import annotations

import argparse
import hmac
import json
import threading

import psycopg
import requests
from flask import Flask, Response, request

from bench.serving import serve


def create_app(database_url: str, api_key: str, telegram_api: str, viber_api: str, viber_token: str) -> Flask:
    app = Flask("naive")
    local = threading.local()

    def thread_local() -> tuple[psycopg.Connection[tuple[object, ...]], requests.Session]:
        if getattr(local, "connection", None) is None or local.connection.closed:
            local.connection = psycopg.connect(database_url, autocommit=True)
            local.session = requests.Session()
        return local.connection, local.session

    def answer(status: str) -> Response:
        return Response(json.dumps({"status": status}), 200, content_type="application/json")

    @app.post("/trigger-notification")
    def trigger() -> Response:
        if not hmac.compare_digest(request.headers.get("X-Internal-API-Key", "").encode(), api_key.encode()):
            return Response('{"error": "unauthorized"}', 401, content_type="application/json")
        body = request.get_json()
        connection, session = thread_local()
        row = connection.execute("SELECT telegram_chat_id, viber_user_id FROM contacts WHERE phone = %s",
                                 (body["phone"],)).fetchone()
        if row is None:
            return answer("Failed: User not found")
        text = f"Order {body['order_id']} is ready: {', '.join(body.get('items', []))}"
        telegram_id, viber_id = row
        if telegram_id is not None:
            sent = session.post(f"{telegram_api}/sendMessage", json={"chat_id": telegram_id, "text": text}, timeout=10)
            if sent.ok:
                return answer("Sent via Telegram")
        if viber_id is not None:
            sent = session.post(f"{viber_api}/send_message", timeout=10, headers={"X-Viber-Auth-Token": viber_token},
                                json={"receiver": viber_id, "type": "text", "text": text,
                                      "sender": {"name": "naive"}})
            if sent.ok and sent.json().get("status") == 0:
                return answer("Sent via Viber")
        return answer("Failed: Delivery failed")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--telegram-api", required=True, help="Base URL with the token: http://host:port/bot<token>")
    parser.add_argument("--viber-api", default="", help="Base URL of the Viber API: http://host:port/pa")
    parser.add_argument("--viber-token", default="")
    parser.add_argument("--port", type=int, default=5003)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--api-key", default="bench-internal-key")
    args = parser.parse_args()
    serve(lambda: create_app(args.database_url, args.api_key, args.telegram_api, args.viber_api, args.viber_token),
          "127.0.0.1", args.port, args.workers)


if __name__ == "__main__":
    main()
