"""Operators' sign-in to the dashboard: one password (its hash in the settings), a signed session cookie, CSRF.

- The password is checked against ``ADMIN_PASSWORD_HASH`` (werkzeug's scrypt or pbkdf2 format, as
  ``omnibot admin hash-password`` prints it), throttled per client address (``sign_in_throttle``):
  a guesser waits longer and longer, other addresses sign in at once.
- The session is Flask's signed cookie, keyed with ``SECRET_KEY``: HttpOnly, SameSite=Lax, limited
  to ``/admin``, Secure when the request came over https (or as ``ADMIN_COOKIE_SECURE`` says), valid
  for 12 hours. It holds a fingerprint of the password hash and of the sign-out generation (kept
  in the database): changing the password, or signing out, ends every session issued before, in
  every process.
- Every POST carries the session's CSRF token in a hidden field.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, g, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import check_password_hash, generate_password_hash

from omnibot.ports import OperatorSignOuts
from omnibot.services.sign_in_throttle import SignInThrottle
from omnibot.settings import Settings

log = logging.getLogger(__name__)

SESSION_HOURS = 12
CSRF_FIELD = "csrf_token"
# `omnibot serve` hands its processes one key when SECRET_KEY is unset, so a sign-in holds in all of them.
RUN_KEY_ENV = "OMNIBOT_RUN_SECRET_KEY"
_SIGNED_IN, _CSRF = "operator", "csrf"
# The one account of the dashboard (one password); sign-outs are recorded under its name.
OPERATOR = "operator"


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # scrypt, salted


def share_run_key(environ: MutableMapping[str, str]) -> None:
    """Before `omnibot serve` starts its processes: one random session key for all of them, when unset."""
    environ.setdefault(RUN_KEY_ENV, secrets.token_hex(32))


@dataclass(frozen=True)
class Verdict:
    """One sign-in try: ``correct`` is None when the password was not checked (too soon, or busy);
    ``wait`` is how many seconds the address must now wait before its next try (0.0: none)."""

    correct: bool | None
    wait: float


class Operators:
    """The sign-in rules of one app, from its settings."""

    def __init__(self, settings: Settings, sign_outs: OperatorSignOuts, throttle: SignInThrottle) -> None:
        self.password_hash = settings.secret("admin_password_hash")
        self.cookie_secure = settings.admin_cookie_secure
        configured = settings.secret("secret_key")
        if configured is None:
            log.warning("admin.secret_key_missing: SECRET_KEY is not set; dashboard sign-ins last until omnibot "
                        "serve restarts")
        self.secret_key = configured or os.environ.get(RUN_KEY_ENV) or secrets.token_hex(32)
        self._sign_outs = sign_outs
        self._throttle = throttle

    @property
    def enabled(self) -> bool:
        return self.password_hash is not None

    def configure(self, app: Flask) -> None:
        app.secret_key = self.secret_key
        app.config.update(SESSION_COOKIE_NAME="omnibot_admin", SESSION_COOKIE_HTTPONLY=True,
                          SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS))
        app.session_interface = _OperatorCookie(self.cookie_secure)

    def check(self, password: str, address: str | None) -> Verdict:
        """Whether ``password`` is the operators', tried from client ``address``.

        The throttle refuses at once (unchecked, no hash run) an address that must still wait or
        already has a check running; nothing sleeps, so guesses hold no thread beyond one hash.
        """
        wait = self._throttle.admit(address)
        if wait:
            return Verdict(None, wait)
        correct = False
        try:
            correct = bool(self.password_hash is not None and password
                           and check_password_hash(self.password_hash, password))
        finally:
            wait = self._throttle.finish(address, correct)
        return Verdict(correct, wait)

    def sign_in(self) -> None:
        session.clear()  # a new session after sign-in: nothing set before it carries over
        session.permanent = True
        session[_SIGNED_IN] = self._fingerprint(self._sign_outs.generation(OPERATOR))
        session[_CSRF] = secrets.token_urlsafe(32)
        g.operator_signed_in = True

    def sign_out(self) -> None:
        """End this session and every other issued before now, in every process (copied cookies too)."""
        self._sign_outs.sign_out(OPERATOR)
        session.clear()
        g.operator_signed_in = False

    def signed_in(self) -> bool:
        """Whether this request's session is a current operator's; one primary-key read per request."""
        known = g.get("operator_signed_in")
        if known is None:
            known = g.operator_signed_in = self._still_valid(session.get(_SIGNED_IN))
        return bool(known)

    def _still_valid(self, held: object) -> bool:
        if not (self.enabled and isinstance(held, str)):
            return False  # no database read for strangers
        current = self._fingerprint(self._sign_outs.generation(OPERATOR))
        return hmac.compare_digest(held, current)

    def _fingerprint(self, generation: int) -> str:
        material = f"{self.password_hash}\0{generation}".encode()
        return hmac.new(self.secret_key.encode(), material, hashlib.sha256).hexdigest()[:32]


def csrf_token() -> str:
    token = session.get(_CSRF)
    if not isinstance(token, str):
        token = session[_CSRF] = secrets.token_urlsafe(32)
    return token


def csrf_ok() -> bool:
    expected, given = session.get(_CSRF), request.form.get(CSRF_FIELD, "")
    return isinstance(expected, str) and bool(given) and hmac.compare_digest(expected.encode(), given.encode())


class _OperatorCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, for the dashboard's path only, Secure when the request came over https."""

    def __init__(self, secure: bool | str) -> None:
        self._secure = secure

    def get_cookie_secure(self, app: Flask) -> bool:
        if self._secure == "auto":
            return bool(request.is_secure)  # https to us, or to a trusted proxy (TRUSTED_PROXY_COUNT)
        return bool(self._secure)

    def get_cookie_path(self, app: Flask) -> str:
        return f"{request.script_root}/admin"
