"""Operators' sign-in to the dashboard: one password (its hash in the settings), a signed session cookie, CSRF.

- The password is checked against ``ADMIN_PASSWORD_HASH`` (werkzeug's scrypt or pbkdf2 format, as
  ``omnibot admin hash-password`` prints it); a wrong one is answered after a delay.
- The session is Flask's signed cookie, keyed with ``SECRET_KEY``: HttpOnly, SameSite=Lax, limited
  to ``/admin``, Secure when the request came over https (or as ``ADMIN_COOKIE_SECURE`` says), valid
  for 12 hours. It holds a fingerprint of the password hash, so changing the password signs
  everyone out.
- Every POST carries the session's CSRF token in a hidden field.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import MutableMapping
from datetime import timedelta

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import check_password_hash, generate_password_hash

from omnibot.settings import Settings

log = logging.getLogger(__name__)

SESSION_HOURS = 12
WRONG_PASSWORD_DELAY = 1.0  # seconds; with one password to guess, it turns a fast guesser into a slow one
CSRF_FIELD = "csrf_token"
# `omnibot serve` hands its processes one key when SECRET_KEY is unset, so a sign-in holds in all of them.
RUN_KEY_ENV = "OMNIBOT_RUN_SECRET_KEY"
_SIGNED_IN, _CSRF = "operator", "csrf"


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # scrypt, salted


def share_run_key(environ: MutableMapping[str, str]) -> None:
    """Before `omnibot serve` starts its processes: one random session key for all of them, when unset."""
    environ.setdefault(RUN_KEY_ENV, secrets.token_hex(32))


class Operators:
    """The sign-in rules of one app, from its settings."""

    def __init__(self, settings: Settings) -> None:
        self.password_hash = settings.secret("admin_password_hash")
        self.cookie_secure = settings.admin_cookie_secure
        configured = settings.secret("secret_key")
        if configured is None:
            log.warning("admin.secret_key_missing: SECRET_KEY is not set; dashboard sign-ins last until omnibot "
                        "serve restarts")
        self.secret_key = configured or os.environ.get(RUN_KEY_ENV) or secrets.token_hex(32)
        self._checking = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.password_hash is not None

    def configure(self, app: Flask) -> None:
        app.secret_key = self.secret_key
        app.config.update(SESSION_COOKIE_NAME="omnibot_admin", SESSION_COOKIE_HTTPONLY=True,
                          SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS))
        app.session_interface = _OperatorCookie(self.cookie_secure)

    def check(self, password: str) -> bool | None:
        """Whether ``password`` is the operators'; a wrong one costs the caller a delay.

        One check at a time per process, and None at once for any other meanwhile: a flood of
        guesses then holds one thread (and one scrypt) per process, not every thread that also
        serves the shop's API, and guessing stays at about one try a second.
        """
        if not self._checking.acquire(blocking=False):
            return None
        try:
            if self.password_hash is not None and password and check_password_hash(self.password_hash, password):
                return True
            time.sleep(WRONG_PASSWORD_DELAY)
            return False
        finally:
            self._checking.release()

    def sign_in(self) -> None:
        session.clear()  # a new session after sign-in: nothing set before it carries over
        session.permanent = True
        session[_SIGNED_IN] = self._fingerprint()
        session[_CSRF] = secrets.token_urlsafe(32)

    @staticmethod
    def sign_out() -> None:
        session.clear()

    def signed_in(self) -> bool:
        held = session.get(_SIGNED_IN)
        return self.enabled and isinstance(held, str) and hmac.compare_digest(held, self._fingerprint())

    def _fingerprint(self) -> str:
        material = f"{self.password_hash}".encode()
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
