"""Log lines: JSON or text, the request id in each, and no secret or full phone number in any."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from omnibot import logging_setup
from omnibot.logs import context
from omnibot.logs.formatting import split_message
from omnibot.logs.redaction import Redactor, configured_secrets
from omnibot.settings import Settings

TOKEN = "123456:AAE-secret-bot-token"


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env(telegram_bot_token=TOKEN, internal_api_key="key-one-1234,key-two-5678",
                             telegram_webhook_secret="hook-secret", database_url="postgresql://app:db-pass@db/app",
                             redis_url="redis://:redis-pass@cache:6379/0", log_format="json")


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if h.get_name() == "omnibot"]:
        root.removeHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.fixture
def stream(settings: Settings) -> io.StringIO:
    out = io.StringIO()
    logging_setup.configure(settings, stream=out)
    return out


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_event_style_messages_become_an_event_and_fields() -> None:
    assert split_message("notification.sent id=abc channel=telegram") == (
        "notification.sent", {"id": "abc", "channel": "telegram"}, True)
    assert split_message("Booting worker with pid: 7") == ("Booting worker with pid: 7", {}, True)
    event, fields, complete = split_message("webhook.viber_delivery_failed message_token=5 desc=not a word")
    assert (event, fields["desc"], complete) == ("webhook.viber_delivery_failed", "not", False)
    assert split_message("x.y level=9")[1] == {"field_level": "9"}  # never overwrites the line's own keys


def test_json_lines_carry_time_level_logger_event_fields_and_request_id(stream: io.StringIO) -> None:
    with context.request_id("req-42"):
        logging.getLogger("omnibot.test").warning("notification.failed id=%s result=%s", "n1", "Failed:")
    logging.getLogger("omnibot.test").info("worker.started", extra={"owner": "w1"})
    first, second = lines(stream)
    assert first["level"] == "WARNING" and first["logger"] == "omnibot.test"
    assert (first["event"], first["id"], first["result"], first["request_id"]) == (
        "notification.failed", "n1", "Failed:", "req-42")
    assert str(first["time"]).endswith("+00:00")
    assert second["owner"] == "w1" and "request_id" not in second and "message" not in second


def test_secrets_and_phones_are_masked_wherever_they_appear(stream: io.StringIO) -> None:
    log = logging.getLogger("omnibot.test")
    log.info("http.call url=https://api.telegram.org/bot%s/sendMessage", TOKEN)
    log.info("contact.phone phone=%s key=%s", "+380501234567", "key-two-5678", extra={"header": "key-one-1234"})
    try:
        raise RuntimeError("hook-secret was wrong for +380671234567; db-pass; redis-pass")
    except RuntimeError:
        log.exception("http.unhandled_error")
    text = stream.getvalue()
    for secret in (TOKEN, "AAE-secret-bot-token", "key-one-1234", "key-two-5678", "hook-secret", "db-pass",
                   "redis-pass", "+380501234567", "+380671234567"):
        assert secret not in text
    parsed = lines(stream)
    assert parsed[0]["url"] == "https://api.telegram.org/bot***/sendMessage"
    assert (parsed[1]["phone"], parsed[1]["key"], parsed[1]["header"]) == ("+380*******67", "***", "***")
    assert "RuntimeError: *** was wrong for +380*******67" in str(parsed[2]["exc_info"])


def test_redaction_leaves_ids_and_short_numbers_alone() -> None:
    redact = Redactor(["abc"])  # too short to mask without wrecking every line
    text = "id=574b8542-d337-4666-8acc-123456789012 took=1234567 abc"
    assert redact(text) == text


def test_configured_secrets_are_every_secret_setting_and_url_password(settings: Settings) -> None:
    found = set(configured_secrets(settings))
    assert {TOKEN, "AAE-secret-bot-token", "key-one-1234", "key-two-5678", "hook-secret", "db-pass",
            "redis-pass"} <= found


def test_text_lines_for_a_terminal_with_the_request_id() -> None:
    out = io.StringIO()
    logging_setup.configure(Settings.from_env(log_format="text"), stream=out)
    with context.request_id("req-7"):
        logging.getLogger("omnibot.test").info("notification.sent id=%s", "n1")
    assert out.getvalue().rstrip().endswith("INFO omnibot.test notification.sent id=n1 request_id=req-7")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_unless_a_terminal_unless_told() -> None:
    assert logging_setup.log_format(None, io.StringIO()) == "json"
    assert logging_setup.log_format(None, _Tty()) == "text"
    assert logging_setup.log_format("json", _Tty()) == "json"


def test_request_ids_from_callers_are_kept_only_when_plain() -> None:
    assert context.request_id_from("order-1234.retry:2") == "order-1234.retry:2"
    for unfit in (None, "", "two words", "x" * 65, "line\nbreak", '{"json": 1}'):
        generated = context.request_id_from(unfit)
        assert generated != unfit and len(generated) == 32
