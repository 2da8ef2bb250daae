"""The failures faults and rate limits answer, in each messenger's own words.

Telegram: its ``{"ok": false, "error_code", "description"}`` envelope with the HTTP status equal
to the code. Viber: HTTP 200 with a ``status``, or a bare 5xx from the proxy in front of the API.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from omnibot_sandbox.dispatch import ApiAnswer
from omnibot_sandbox.fault_settings import ErrorRule
from omnibot_sandbox.traffic import SHORT_OF_STARS, Admission
from omnibot_sandbox.viber_api import CHAT_HOSTNAME, GENERAL_ERROR, STATUS_MESSAGES
from omnibot_sandbox.viber_billing import FREE_MESSAGES_EXCEEDED, NO_BALANCE

# The typical description of each code, from the Bot API's error table; 429's names its wait.
TELEGRAM_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
}
UNAVAILABLE = 502
# The sandbox's own wording: neither the Bot API documentation nor any public report we found
# names the error Telegram answers a paid broadcast the bot's Stars cannot pay for (MTProto calls a
# short Stars balance BALANCE_TOO_LOW elsewhere, e.g. for paid reactions).
NOT_ENOUGH_STARS = "Bad Request: not enough stars for paid broadcast"


def phrase(code: int) -> str:
    """``Bad Gateway`` for 502: the standard reason phrase."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def telegram_description(code: int) -> str:
    return TELEGRAM_DESCRIPTIONS.get(code) or phrase(code)


class TelegramDialect:
    def injected(self, rule: ErrorRule) -> ApiAnswer:
        code = rule.error_code or UNAVAILABLE
        if code == 429:
            return self.too_many_requests(rule.retry_after or 1, rule.description)
        return self._error(code, rule.description or telegram_description(code))

    def unavailable(self) -> ApiAnswer:
        return self._error(UNAVAILABLE, telegram_description(UNAVAILABLE))

    def refused(self, admission: Admission) -> ApiAnswer:
        if admission.over == SHORT_OF_STARS:
            return self._error(400, NOT_ENOUGH_STARS)
        return self.too_many_requests(admission.retry_after)

    def too_many_requests(self, retry_after: int, description: str | None = None) -> ApiAnswer:
        return self._error(429, description or f"Too Many Requests: retry after {retry_after}",
                           {"retry_after": retry_after})

    @staticmethod
    def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> ApiAnswer:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return ApiAnswer(code, body, ok=False, code=code, message=description)


class ViberDialect:
    def injected(self, rule: ErrorRule) -> ApiAnswer:
        if rule.status is None:
            return self._bare(rule.http_status or UNAVAILABLE)
        return self._status(rule.status, rule.description)

    def unavailable(self) -> ApiAnswer:
        return self._bare(UNAVAILABLE)

    def refused(self, admission: Admission) -> ApiAnswer:
        if admission.over == NO_BALANCE:
            return self._status(24)  # noBalance
        if admission.over == FREE_MESSAGES_EXCEEDED:
            return self._status(23)  # freeMessagesExceeded
        return self._status(12)  # tooManyRequests; Viber names no wait

    @staticmethod
    def _status(status: int, message: str | None = None) -> ApiAnswer:
        message = message or STATUS_MESSAGES.get(status, GENERAL_ERROR)
        body = {"status": status, "status_message": message, "chat_hostname": CHAT_HOSTNAME}
        return ApiAnswer(200, body, ok=False, code=status, message=message)

    @staticmethod
    def _bare(http_status: int) -> ApiAnswer:
        reason = phrase(http_status)
        return ApiAnswer(http_status, {}, ok=False, message=reason, text=f"{http_status} {reason}\n")
