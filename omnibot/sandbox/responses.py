"""Turning an ``ApiAnswer`` into what goes on the wire, including no answer at all.

A reset connection cannot be a Flask response: the view returns one whose body, when the server
starts to send it, sets SO_LINGER to 0, stops reading and raises ``ConnectionAborted``. Werkzeug
treats that as a dropped connection and sends nothing; ``server.py``'s handler then closes the
socket at once, so the client gets a TCP reset (under a plain werkzeug server it gets an EOF and
then the reset). Through Flask's test client there is no socket: the exception reaches the test.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Any

from flask import Response, jsonify, request

from omnibot.sandbox.dispatch import ApiAnswer


class ConnectionAborted(ConnectionResetError):
    """Raised while sending a response to drop the connection instead."""


def respond(answer: ApiAnswer) -> Response:
    if answer.abort:
        return Response(_aborted(request.environ.get("werkzeug.socket")))
    if answer.text is not None:
        return Response(answer.text, status=answer.http_status, mimetype="text/plain")
    response = jsonify(answer.body)
    response.status_code = answer.http_status
    return response


def abort_socket(sock: Any) -> None:
    """Make ``close()`` send RST rather than FIN, and let the server's next read see EOF."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass  # the client went away first


def _aborted(sock: Any) -> Iterator[bytes]:
    if sock is not None:
        abort_socket(sock)
    raise ConnectionAborted("connection reset by the sandbox (outage)")
    yield b""  # a generator: nothing runs until the server starts sending
