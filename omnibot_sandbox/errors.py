"""JSON errors for every path: Telegram's envelope under /bot, Viber's body under /pa, and
``{"error": {"code", "message"}}`` for the control API. Never an HTML page.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ControlError(Exception):
    """A control-API request that cannot be carried out; becomes a 4xx JSON answer."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def from_validation_error(error: ValidationError) -> ControlError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return ControlError(400, "invalid_request", f"{field}: {first['msg']}" if field else first["msg"],
                        field)


def register(app: Flask) -> None:
    @app.errorhandler(ControlError)
    def control_error(error: ControlError) -> tuple[Response, int]:
        body: dict[str, str] = {"code": error.code, "message": error.message}
        if error.field:
            body["field"] = error.field
        return jsonify({"error": body}), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        status = error.code or 500
        return _shaped(status, error.name, _snake(error.name)), status

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("sandbox.unexpected_error path=%s", request.path)
        return _shaped(500, "Internal Server Error", "internal_error"), 500


def _shaped(status: int, name: str, code: str) -> Response:
    """The error in the dialect of whoever asked: a bot API client or a control API client."""
    if request.path.startswith("/bot"):
        return jsonify({"ok": False, "error_code": status, "description": name})
    if request.path.startswith("/pa/") or request.path == "/pa":
        return jsonify({"status": 3, "status_message": name})
    message = f"{name}: {request.method} {request.path}"
    return jsonify({"error": {"code": code, "message": message}})


def _snake(name: str) -> str:
    return name.lower().replace(" ", "_")
