"""Serving the sandbox: one process, many threads, because all its state lives in memory."""

from __future__ import annotations

import re
import signal
import threading
from types import FrameType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from omnibot.sandbox.app import create_app
from omnibot.sandbox.config import SandboxConfig
from omnibot.sandbox.responses import ConnectionAborted

_TOKEN_IN_PATH = re.compile(r"/bot[^/\s]+/")


class _RedactingHandler(WSGIRequestHandler):
    """Werkzeug's access log, minus bot tokens: Telegram puts them in the URL path."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Werkzeug's own version adds terminal colours, which only garble a log file.
        self.log("info", '"%s" %s %s', self.requestline, code, size)

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's name
        text = message % args if args else message
        super().log(type, "%s", _TOKEN_IN_PATH.sub("/bot<token>/", text))

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        if isinstance(error, ConnectionAborted):
            # An outage in "reset" mode: close now, with SO_LINGER 0 already set, so the client
            # gets a TCP reset instead of the FIN werkzeug's own shutdown would send first.
            self.close_connection = True
            self.connection.close()


def make(host: str, port: int, config: SandboxConfig) -> BaseWSGIServer:
    """The sandbox's server, not yet serving; ``server.serve_forever()`` runs it (tests use a thread)."""
    return make_server(host, port, create_app(config), threaded=True, request_handler=_RedactingHandler)


def run(host: str, port: int, config: SandboxConfig) -> None:
    """Serve until SIGTERM or SIGINT; ``port`` 0 picks a free port (the printed line says which)."""
    server = make(host, port, config)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, which runs on this very (main) thread:
        # ask from another thread so the handler itself returns at once.
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    print(f"omnibot sandbox listening on http://{host}:{server.server_port} "
          f"(Telegram API at /bot<token>/, Viber API at /pa/, control API at /sandbox/)", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
