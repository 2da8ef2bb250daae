"""How the adapters read the messengers' error envelopes (the wire itself is tested on the sandbox)."""

import hashlib
import hmac

from omnibot.adapters import telegram, viber
from omnibot.domain.errors import PermanentFailure, TransientFailure
from omnibot.domain.model import ChannelState


def test_telegram_block_is_permanent_and_blocks_the_channel() -> None:
    failure = telegram.classify(
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}, 403)
    assert isinstance(failure, PermanentFailure)
    assert failure.recipient_state is ChannelState.BLOCKED


def test_telegram_429_is_transient_with_its_retry_after() -> None:
    failure = telegram.classify({"ok": False, "error_code": 429, "description": "Too Many Requests: "
                                 "retry after 7", "parameters": {"retry_after": 7}}, 429)
    assert isinstance(failure, TransientFailure) and failure.retry_after == 7


def test_telegram_bad_token_is_permanent_but_not_the_customers_fault() -> None:
    failure = telegram.classify({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
    assert isinstance(failure, PermanentFailure) and failure.recipient_state is None


def test_telegram_5xx_is_transient() -> None:
    assert isinstance(telegram.classify({"ok": False, "error_code": 502}, 502), TransientFailure)


def test_viber_statuses() -> None:
    not_subscribed = viber.classify({"status": 6, "status_message": "receiverNotSubscribed"})
    assert isinstance(not_subscribed, PermanentFailure)
    assert not_subscribed.recipient_state is ChannelState.BLOCKED
    assert isinstance(viber.classify({"status": 12, "status_message": "tooManyRequests"}),
                      TransientFailure)
    assert isinstance(viber.classify({"status": 99, "status_message": "generalError"}),
                      TransientFailure)
    bad_token = viber.classify({"status": 2, "status_message": "invalidAuthToken"})
    assert isinstance(bad_token, PermanentFailure) and bad_token.recipient_state is None


def test_viber_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"event":"webhook"}'
    good = hmac.new(b"tok", body, hashlib.sha256).hexdigest()
    assert viber.signature_is_valid(body, good, "tok")
    assert viber.signature_is_valid(body, good.upper(), "tok")
    assert not viber.signature_is_valid(body + b" ", good, "tok")
    assert not viber.signature_is_valid(body, None, "tok")
