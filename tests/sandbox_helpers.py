"""Helpers for the sandbox's tests: a real HTTP webhook receiver and a client for the sandbox."""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flask.testing import FlaskClient

from omnibot_sandbox import SANDBOX_TELEGRAM_TOKEN, SANDBOX_VIBER_TOKEN, SandboxConfig


@dataclass(frozen=True)
class Received:
    """One request the webhook receiver got, byte for byte."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


Reply = Callable[[Received], tuple[int, Any]]


class WebhookReceiver:
    """Stands in for the bot's webhook: records every request, answers what ``reply`` says."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.reply: Reply = lambda received: (200, {"ok": True})
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                received = Received(self.path, dict(self.headers.items()), self.rfile.read(length))
                receiver.requests.append(received)
                status, body = receiver.reply(received)
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hook"

    def answer(self, status: int, body: Any = None) -> None:
        self.reply = lambda received: (status, body)

    @property
    def last(self) -> Received:
        return self.requests[-1]

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


def viber_signature(body: bytes, token: str = SANDBOX_VIBER_TOKEN) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


class SandboxClient:
    """The sandbox's three faces through Flask's test client: Telegram, Viber, control."""

    def __init__(self, client: FlaskClient) -> None:
        self.http = client

    def telegram(self, method: str, token: str = SANDBOX_TELEGRAM_TOKEN, **params: Any) -> tuple[int, Any]:
        response = self.http.post(f"/bot{token}/{method}", json=params)
        return response.status_code, response.get_json()

    def viber(self, endpoint: str, body: dict[str, Any] | None = None,
              token: str | None = SANDBOX_VIBER_TOKEN) -> dict[str, Any]:
        headers = {"X-Viber-Auth-Token": token} if token else {}
        response = self.http.post(f"/pa/{endpoint}", json=body or {}, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        result: dict[str, Any] = response.get_json()
        return result

    def customer(self, name: str = "Olena Kovalenko", phone: str = "+380501234567",
                 language: str = "uk") -> dict[str, Any]:
        response = self.http.post("/sandbox/customers",
                                  json={"name": name, "phone": phone, "language": language})
        assert response.status_code == 201, response.get_json()
        created: dict[str, Any] = response.get_json()
        return created

    def act(self, customer_id: str, action: str, **body: Any) -> dict[str, Any]:
        response = self.http.post(f"/sandbox/customers/{customer_id}/{action}", json=body)
        assert response.status_code == 200, response.get_json()
        result: dict[str, Any] = response.get_json()
        return result

    def messages(self, customer_id: str, channel: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/sandbox/customers/{customer_id}/messages",
                                 query_string={"channel": channel})
        assert response.status_code == 200
        found: list[dict[str, Any]] = response.get_json()
        return found

    def requests(self) -> dict[str, Any]:
        log: dict[str, Any] = self.http.get("/sandbox/requests").get_json()
        return log


# A child process running the sandbox exactly as ``omnibot sandbox`` does, with a pickled config.
_SERVE = ("import pickle, sys; from omnibot_sandbox.server import run; "
          "run('127.0.0.1', 0, pickle.load(sys.stdin.buffer))")
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@contextmanager
def served_sandbox(config: SandboxConfig | None = None) -> Iterator[str]:
    """The sandbox on a free port, served as ``omnibot sandbox`` serves it (gunicorn, in a child
    process: its master wants the main thread and the signals); yields its URL. Leaving stops it
    with SIGTERM, and it must exit 0."""
    process = subprocess.Popen([sys.executable, "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(pickle.dumps(config or SandboxConfig()))
        process.stdin.close()
        line = process.stdout.readline().decode()
        found = _LISTENING.search(line)
        assert found, f"the sandbox did not start: {line!r}, exit code {process.poll()}"
        # Nothing else is printed to stdout without --access-log; drain it anyway so it never blocks.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield found.group(1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
