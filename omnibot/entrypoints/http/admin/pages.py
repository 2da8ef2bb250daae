"""The operators' dashboard at ``/admin``: HTML pages on the same services as the API, behind a sign-in.

Server-rendered Jinja (``templates/admin``) and one small script that refreshes the live parts
(``static/admin/admin.js``); no CDN, nothing inline, so a strict Content-Security-Policy holds.
Not part of the API's OpenAPI document: these are pages for people, not endpoints for shops.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, flash, redirect, render_template, request, url_for
from flask.sansio.blueprints import BlueprintSetupState

from omnibot import bootstrap
from omnibot.domain.errors import RateLimiterUnavailable
from omnibot.domain.model import Channel
from omnibot.domain.phone import mask_phone
from omnibot.entrypoints.http.admin import contacts as admin_contacts
from omnibot.entrypoints.http.admin import notifications as admin_notifications
from omnibot.entrypoints.http.admin.auth import CSRF_FIELD, Operators, csrf_ok, csrf_token

log = logging.getLogger(__name__)

NAME = "admin"
_OPEN = {f"{NAME}.sign_in", f"{NAME}.static"}  # everything else needs a signed-in operator
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def blueprint(services: bootstrap.Services) -> Blueprint:
    admin = Blueprint(NAME, __name__, url_prefix="/admin", template_folder="templates",
                      static_folder="static", static_url_path="/static")
    operators = Operators(services.settings, services.store.operator_sign_outs, services.sign_in_throttle)

    def configure(state: BlueprintSetupState) -> None:
        # Flask types the app as its sans-I/O base, which has no sessions; it is the Flask one here.
        assert isinstance(state.app, Flask)
        operators.configure(state.app)

    admin.record_once(configure)

    @admin.before_request
    def _guard() -> Response | None:
        if request.endpoint in _OPEN:
            return None
        if not operators.signed_in():
            if request.headers.get("X-Requested-With") == "fetch":  # the refresh script: let it reload the page
                return Response("sign in again", status=401, mimetype="text/plain")
            return redirect(url_for(f"{NAME}.sign_in", next=request.script_root + request.full_path.rstrip("?")))  # type: ignore[return-value]
        if request.method == "POST" and not csrf_ok():
            abort(400, "This form has expired. Go back, reload the page and try again.")
        return None

    @admin.after_request
    def _headers(response: Response) -> Response:
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @admin.context_processor
    def _helpers() -> dict[str, Any]:
        return {"csrf_field": CSRF_FIELD, "csrf_token": csrf_token, "signed_in": operators.signed_in()}

    # Filters, not context: the pages' macros are imported without the context.
    admin.add_app_template_filter(when, "when")
    admin.add_app_template_filter(age, "age")
    admin.add_app_template_filter(mask_phone, "masked")

    @admin.errorhandler(400)
    @admin.errorhandler(404)
    def _error(exc: Any) -> tuple[str, int]:
        return render_template("admin/error.html", error=exc), exc.code

    @admin.route("/login", methods=["GET", "POST"])
    def sign_in() -> Any:
        message, status = None, 200
        headers: dict[str, str] = {}
        if request.method == "POST":
            if not csrf_ok():
                message, status = "This form has expired; try again.", 400
            elif not operators.enabled:
                message, status = "Sign-in is off until ADMIN_PASSWORD_HASH is set.", 403
            elif (verdict := operators.check(request.form.get("password", ""), request.remote_addr)).correct:
                operators.sign_in()
                log.info("admin.signed_in remote=%s", request.remote_addr)
                return redirect(_next_page())
            else:
                seconds = math.ceil(verdict.wait)
                if verdict.wait:
                    headers["Retry-After"] = str(seconds)
                if verdict.correct is None:
                    log.warning("admin.sign_in_throttled remote=%s wait=%d", request.remote_addr, seconds)
                    message, status = f"Too many sign-in tries; try again in {seconds} s.", 429
                else:
                    log.warning("admin.sign_in_refused remote=%s wait=%d", request.remote_addr, seconds)
                    message = "Wrong password." + (f" Wait {seconds} s before the next try." if seconds else "")
                    status = 401
        elif operators.signed_in():
            return redirect(_next_page())
        return render_template("admin/login.html", message=message, enabled=operators.enabled), status, headers

    @admin.post("/logout")
    def sign_out() -> Response:
        operators.sign_out()
        flash("Signed out.")
        return redirect(url_for(f"{NAME}.sign_in"))  # type: ignore[return-value]

    @admin.get("/")
    def home() -> Response:
        return redirect(url_for(f"{NAME}.notifications"))  # type: ignore[return-value]

    pause_names = {services.limits.pause_key(channel): channel for channel in Channel}

    def queue_health() -> dict[str, Any]:
        depth, oldest = services.store.queue.depth()
        try:
            pauses = [(pause_names.get(key, key), seconds) for key, seconds in services.limiter.paused().items()]
        except RateLimiterUnavailable as exc:  # Redis down: the page still shows what the database knows
            log.warning("admin.pauses_unavailable error=%s", exc)
            pauses = None
        now = datetime.now(UTC)
        return {"depth": depth, "oldest_age": None if oldest is None else (now - oldest).total_seconds(),
                "pauses": pauses, "statuses": services.store.dashboard.status_counts(), "now": now}

    @admin.get("/queue")
    def queue() -> str:
        return render_template("admin/queue.html", queue=queue_health())

    @admin.get("/queue/live")
    def queue_live() -> str:
        return render_template("admin/_queue.html", queue=queue_health())

    admin_notifications.register(admin, services, queue_health)
    admin_contacts.register(admin, services)
    return admin


def _next_page() -> str:
    """Where to go after signing in: the page asked for, if it is one of the dashboard's."""
    wanted = request.args.get("next", "")
    root = f"{request.script_root}/admin/"
    if wanted.startswith(root) and "//" not in wanted and "\\" not in wanted and wanted.isprintable():
        return wanted
    return url_for(f"{NAME}.home")


def when(moment: datetime | None) -> str:
    """A UTC time as the dashboard shows it."""
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
