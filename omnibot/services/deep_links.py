"""Signed one-customer deep links: the shop makes one per phone, the customer binds in one click.

A token is ``ob1`` + 16 random bytes + a 12-byte HMAC of them, base64url: 41 characters of
``A-Za-z0-9_-``, inside Telegram's 64-character start payload and safe in a Viber context. The
HMAC key belongs to this bot, so a token made by another omnibot (or forged) is told apart from
one that expired or was used. Only a SHA-256 of the token is stored.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from omnibot.domain.model import LinkToken
from omnibot.ports import Clock, LinkTokenRepository

PREFIX = "ob1"
_SHAPE = re.compile(rf"{PREFIX}[A-Za-z0-9_-]{{38}}")
_RANDOM_BYTES, _MAC_BYTES = 16, 12


class TokenCheck(enum.Enum):
    NOT_A_TOKEN = "not_a_token"  # a raw order id, as the seed's links carry
    FOREIGN = "foreign"  # shaped like ours, signed by another bot (or forged)
    SIGNED = "signed"


@dataclass(frozen=True)
class IssuedLink:
    token: str
    phone: str
    order_id: str | None
    expires_at: datetime
    telegram_url: str | None
    viber_url: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LinkIssuer:
    def __init__(self, tokens: LinkTokenRepository, clock: Clock, key: bytes, telegram_bot_username: str | None,
                 viber_bot_uri: str | None, default_ttl: timedelta = timedelta(days=7),
                 random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> None:
        self._tokens = tokens
        self._clock = clock
        self._key = key
        self._telegram = telegram_bot_username
        self._viber = viber_bot_uri
        self.default_ttl = default_ttl
        self._random = random_bytes

    def create(self, phone: str, order_id: str | None = None, ttl: timedelta | None = None) -> IssuedLink:
        body = _b64(self._random(_RANDOM_BYTES))
        token = PREFIX + body + _b64(self._mac(body))
        now = self._clock.now()
        expires_at = now + (ttl or self.default_ttl)
        self._tokens.add(LinkToken(token_hash(token), phone, order_id, expires_at, created_at=now))
        return IssuedLink(token, phone, order_id, expires_at, self.telegram_url(token), self.viber_url(token))

    def check(self, payload: str) -> TokenCheck:
        if not _SHAPE.fullmatch(payload):
            return TokenCheck.NOT_A_TOKEN
        body, mac = payload[len(PREFIX):len(PREFIX) + 22], payload[len(PREFIX) + 22:]
        return TokenCheck.SIGNED if hmac.compare_digest(_b64(self._mac(body)), mac) else TokenCheck.FOREIGN

    def telegram_url(self, payload: str) -> str | None:
        return f"https://t.me/{self._telegram}?start={payload}" if self._telegram else None

    def viber_url(self, payload: str) -> str | None:
        return f"viber://pa?chatURI={quote(self._viber)}&context={payload}" if self._viber else None

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
