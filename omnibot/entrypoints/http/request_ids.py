"""Every request has an id: the caller's ``X-Request-ID`` or a new one, in each of its log lines.

The id is echoed in the response's ``X-Request-ID``, stored on the notifications the request
creates, and bound again by the worker that delivers them: one id follows a notification from the
shop's call to the messenger's answer.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from omnibot.logs import context

HEADER = "X-Request-ID"


def register(app: Flask) -> None:
    @app.before_request
    def _bind() -> None:
        g.request_id = context.request_id_from(request.headers.get(HEADER))
        g.request_id_token = context.bind(g.request_id)

    @app.after_request
    def _echo(response: Response) -> Response:
        if "request_id" in g:
            response.headers[HEADER] = g.request_id
        return response

    @app.teardown_request
    def _unbind(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is None:
            return
        try:
            context.unbind(token)
        except ValueError:  # torn down in another context than it was bound in (test clients can)
            context.bind(None)
