"""Every error leaves the HTTP edge as JSON: ``{"error": {"code", "message", "field"?}}``."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from omnibot.domain.errors import Conflict, IdempotencyConflict, StoreError, StoreUnavailable
from omnibot.entrypoints.http.api.responses import ErrorBody, ErrorDetail

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the caller can fix, with the HTTP status that says so."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, field=field or None))
    response = jsonify(body.model_dump(exclude_none=True))
    response.status_code = status
    return response


def from_validation_error(exc: ValidationError) -> ApiError:
    """The first problem pydantic found, naming the field (``items[1]`` style) without its value."""
    first = exc.errors()[0]
    parts = [str(p) for p in first["loc"]]
    field = "".join(f"[{p}]" if p.isdigit() else (f".{p}" if i else p) for i, p in enumerate(parts))
    if not parts:  # a rule about the body as a whole
        code = "missing_field" if first["type"] == "missing" else "invalid_request"
        return ApiError(400, code, first["msg"])
    if first["type"] == "missing":
        return ApiError(400, "missing_field", f"{field} is required", field or None)
    return ApiError(400, "invalid_field", f"{field}: {first['msg']}", field or None)


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.field)

    @app.errorhandler(IdempotencyConflict)
    def _idempotency_conflict(exc: IdempotencyConflict) -> Response:
        return error_response(422, "idempotency_key_reused", str(exc))

    @app.errorhandler(Conflict)
    def _conflict(exc: Conflict) -> Response:
        # Two requests raced for the same customer; the loser may simply retry.
        return error_response(409, "conflict", str(exc))

    @app.errorhandler(StoreError)
    def _database_error(exc: StoreError) -> Response:
        if not isinstance(exc, StoreUnavailable):
            log.exception("http.database_error")
            return error_response(500, "internal_error", "internal error; see the omnibot log")
        # Nothing was committed, so nothing is lost: the caller retries once the database is back.
        log.warning("http.database_unavailable error=%s", exc.reason)
        response = error_response(503, "database_unavailable",
                                  "the database is unavailable; nothing was stored, retry later")
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The traceback goes to the log, never to the caller.
        log.exception("http.unhandled_error")
        return error_response(500, "internal_error", "internal error; see the omnibot log")
