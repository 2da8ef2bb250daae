"""Turning an ``ApiAnswer`` into what goes on the wire, including no answer at all.

A reset connection cannot be a Flask response: the view returns one whose body, when the server
starts to send it, resets the client's connection and raises ``ConnectionAborted`` (an
``ECONNRESET``), which gunicorn and werkzeug both take for a client gone away: they send
nothing. The client gets a TCP reset, not a FIN. Through Flask's test client there is no
socket: the exception reaches the test.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Response, jsonify, request

from omnibot_sandbox.dispatch import ApiAnswer

# Where WSGI servers put the client's socket in the environ: gunicorn, werkzeug's dev server.
SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")
NO_RESPONSE = 444


class ConnectionAborted(ConnectionResetError):
    """Raised while sending a response to drop the connection instead."""


def respond(answer: ApiAnswer) -> Response:
    if answer.abort:
        # Nothing is sent; 444 is what the access log shows (nginx's "closed without a response").
        return Response(_aborted(client_socket(request.environ)), status=NO_RESPONSE)
    if answer.text is not None:
        return Response(answer.text, status=answer.http_status, mimetype="text/plain")
    response = jsonify(answer.body)
    response.status_code = answer.http_status
    return response


def client_socket(environ: Mapping[str, Any]) -> socket.socket | None:
    """The connection the request came on, if the server says (the test client has none)."""
    found = next((environ[key] for key in SOCKET_KEYS if environ.get(key) is not None), None)
    return found if isinstance(found, socket.socket) else None


def reset_connection(sock: socket.socket) -> None:
    """Send the client a TCP reset now, and leave the server a harmless socket to finish with.

    With SO_LINGER 0 the last close sends RST instead of FIN. The socket cannot simply be closed:
    the server still holds it and would close or count it twice. Instead ``dup2`` puts, under its
    very file descriptor (atomically: no other connection can get the number meanwhile), one end
    of a socket pair whose other end is closed. That drops the connection's last reference, so
    the kernel resets it, and the server's next read sees EOF and its writes and close do no harm.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        stand_in, peer = socket.socketpair()
        peer.close()
        with stand_in:
            os.dup2(stand_in.fileno(), sock.fileno(), inheritable=False)
    except OSError:
        pass  # the client went away first


def _aborted(sock: socket.socket | None) -> Iterator[bytes]:
    if sock is not None:
        reset_connection(sock)
    raise ConnectionAborted(errno.ECONNRESET, "connection reset by the sandbox (outage)")
    yield b""  # a generator: nothing runs until the server starts sending
