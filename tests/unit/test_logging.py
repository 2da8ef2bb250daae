"""Log lines: JSON or text, the request id in each, and no secret or full phone number in any."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from gunicorn.config import Config

from omnibot import logging_setup
from omnibot.entrypoints.http.gunicorn_config import GunicornLogger
from omnibot.logs import context
from omnibot.logs.formatting import EventLine, event_of
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


def test_event_style_format_strings_name_an_event_and_its_fields() -> None:
    assert event_of("notification.sent id=%s channel=%s", ("abc", "telegram")) == EventLine(
        "notification.sent", {"id": "abc", "channel": "telegram"}, True)
    assert event_of("webhook.duplicate channel=viber event=%s", ("seen",)) == EventLine(
        "webhook.duplicate", {"channel": "viber", "field_event": "seen"}, True)  # never the line's own keys
    assert event_of("notification.rate_limited wait=%.2f n=%d ratio=100%%", (0.5, 3)) == EventLine(
        "notification.rate_limited", {"wait": "0.50", "n": "3", "ratio": "100%"}, True)
    assert event_of("webhook.viber_delivery_failed token=%s desc=not a word", ("5",)) == EventLine(
        "webhook.viber_delivery_failed", {"token": "5", "desc": "not"}, False)
    assert event_of("Booting worker with pid: %s", (7,)) is None
    assert event_of("x.y a=%s b=%s", ("too few",)) is None  # rendering fails: the whole text is kept instead


def test_user_text_with_key_value_pairs_stays_inside_its_own_field(stream: io.StringIO) -> None:
    order = "ORD-7 phone=+380991112233 level=ERROR"
    logging.getLogger("omnibot.test").info("notification.accepted id=%s order=%s", "n1", order)
    logging.getLogger("werkzeug").info('%s "%s" %s', "127.0.0.1", "GET /a b=c", 200)  # a library's shape
    (line, library) = lines(stream)
    assert set(line) == {"time", "level", "logger", "event", "id", "order"}
    assert (line["level"], line["event"], line["id"], line["order"]) == (
        "INFO", "notification.accepted", "n1", "ORD-7 phone=+380*******33 level=ERROR")
    assert set(library) == {"time", "level", "logger", "event"}
    assert library["event"] == '127.0.0.1 "GET /a b=c" 200'


def test_rendered_text_that_looks_like_an_event_gives_no_fields(stream: io.StringIO) -> None:
    logging.getLogger("omnibot.test").warning("%s", "x.y level=DEBUG request_id=forged")
    logging.getLogger("omnibot.test").info("x.y", extra={"level": "forged", "owner": "w1"})
    first, second = lines(stream)
    assert (first["event"], first["level"], set(first)) == (
        "x.y level=DEBUG request_id=forged", "WARNING", {"time", "level", "logger", "event"})
    assert (second["level"], second["field_level"], second["owner"]) == ("INFO", "forged", "w1")


class _Response:
    status = "404 NOT FOUND"
    headers = [("X-Request-ID", "req-9")]


def test_access_lines_keep_the_whole_path_in_one_field(stream: io.StringIO) -> None:
    config = Config()
    config.set("accesslog", "-")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/zz phone=+380991112233 user=root", "REMOTE_ADDR": "127.0.0.1"}
    GunicornLogger(config).access(_Response(), None, environ, timedelta(milliseconds=3))
    (line,) = lines(stream)
    assert line == {"time": line["time"], "level": "INFO", "logger": "gunicorn.access", "event": "http.access",
                    "method": "GET", "path": "/zz phone=+380*******33 user=root", "status": "404",
                    "duration_ms": "3.0", "remote": "127.0.0.1", "request_id": "req-9"}


def test_text_lines_quote_values_with_spaces_or_equals_signs() -> None:
    out = io.StringIO()
    logging_setup.configure(Settings.from_env(log_format="text"), stream=out)
    logging.getLogger("omnibot.test").info("notification.accepted id=%s order=%s note=%s", "n1",
                                           "ORD-7 phone=+380991112233", 'say "hi"')
    assert out.getvalue().rstrip().endswith(
        'notification.accepted id=n1 order="ORD-7 phone=+380*******33" note="say \\"hi\\""')


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


def test_phones_without_a_plus_are_masked_inside_other_values() -> None:
    redact = Redactor()
    assert redact("ref=380991112244 note=call 0501234567, then /v1/contacts/380501234567/links") == (
        "ref=+380*******44 note=call +380*******67, then /v1/contacts/+380*******67/links")
    assert redact("desc=user 4915112345678 blocked; url=/x?phone=%2B380501234567") == (
        "desc=user +491********78 blocked; url=/x?phone=+380*******67")


def test_phone_masking_keeps_uuids_timestamps_and_order_ids() -> None:
    redact = Redactor()
    # The uuid's last group and the order's digits would be valid numbers if they stood alone.
    text = ("id=574b8542-d337-4666-8acc-380501234567 hex=574b8542d33746668acc380501234567 "
            "at=2026-11-26T23:40:00.380501234567+00:00 ms=1764200400123 order=ORD-1234 ref=ORD-380501234567 "
            "took=3805012345.67")
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
