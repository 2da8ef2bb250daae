"""``omnibot sandbox``: run the messenger emulator from the command line."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from omnibot_sandbox.config import (
    SANDBOX_TELEGRAM_BOT_USERNAME,
    SANDBOX_TELEGRAM_TOKEN,
    SANDBOX_VIBER_BOT_URI,
    SANDBOX_VIBER_TOKEN,
    SandboxConfig,
)
from omnibot_sandbox.fault_settings import FaultSettings
from omnibot_sandbox.server import DEFAULT_THREADS


def error_rule(value: str) -> tuple[str, dict[str, Any]]:
    """``telegram.sendMessage=0.2:502`` → the key and its rule; Viber codes under 500 are statuses."""
    method, equals, spec = value.rpartition("=")
    rate, _, code = spec.partition(":")
    if not equals or not method:
        raise click.BadParameter(f"{value!r}: expected METHOD=RATE[:CODE], e.g. telegram.sendMessage=0.2:502")
    try:
        rule: dict[str, Any] = {"rate": float(rate)}
        if code:
            number = int(code)
            name = "error_code" if method.startswith("telegram.") else "http_status" if number >= 500 else "status"
            rule[name] = number
    except ValueError:
        raise click.BadParameter(f"{value!r}: RATE is a number from 0 to 1, CODE an integer") from None
    return method, rule


def initial_faults(latency_ms: float, jitter_ms: float, enforce: bool, telegram_rate: float | None,
                   telegram_chat_rate: float | None, error_rates: tuple[str, ...],
                   seed: int | None, viber_terms: dict[str, Any] | None = None) -> FaultSettings | None:
    """The faults the command line asks for; None when it asks for none.

    ``viber_terms``: the ``viber_*`` billing settings given, which go into ``rate_limits``.
    """
    viber_terms = {name: value for name, value in (viber_terms or {}).items() if value is not None}
    faults: dict[str, Any] = {}
    if jitter_ms > 0:
        faults["latency"] = {"uniform_ms": [max(0.0, latency_ms - jitter_ms), latency_ms + jitter_ms]}
    elif latency_ms > 0:
        faults["latency"] = {"fixed_ms": latency_ms}
    if enforce or telegram_rate is not None or telegram_chat_rate is not None or viber_terms:
        limits: dict[str, Any] = {"enforce": enforce, **viber_terms}
        if telegram_rate is not None:
            limits["telegram_per_second"] = telegram_rate
        if telegram_chat_rate is not None:
            limits["telegram_per_chat_per_second"] = telegram_chat_rate
        faults["rate_limits"] = limits
    rules: dict[str, Any] = {}
    for value in error_rates:
        method, rule = error_rule(value)
        key, n = method, 1
        while key in rules:
            n += 1
            key = f"{method}#{n}"
        rules[key] = rule
    if rules:
        faults["error_rates"] = rules
    if seed is not None:
        faults["seed"] = seed
    if not faults:
        return None
    try:
        return FaultSettings.model_validate(faults)
    except ValidationError as error:
        raise click.BadParameter(str(error.errors()[0]["msg"])) from None


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=5001, show_default=True, envvar="SANDBOX_PORT",
              help="Port to listen on (env SANDBOX_PORT; 0 picks a free one).")
@click.option("--telegram-token", default=SANDBOX_TELEGRAM_TOKEN, show_default=True,
              help="The only bot token the emulated Telegram API accepts.")
@click.option("--viber-token", default=SANDBOX_VIBER_TOKEN, show_default=True,
              help="The only auth token the emulated Viber API accepts; also signs callbacks.")
@click.option("--telegram-bot-username", default=SANDBOX_TELEGRAM_BOT_USERNAME, show_default=True,
              help="The bot's @username, as in https://t.me/<username>?start=... links.")
@click.option("--viber-bot-uri", default=SANDBOX_VIBER_BOT_URI, show_default=True,
              help="The account's URI, as in viber://pa?chatURI=<uri>&context=... links.")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Delay before answering every bot API call.")
@click.option("--latency-jitter-ms", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Spread the delay uniformly over latency ± jitter.")
@click.option("--enforce-rate-limits/--no-enforce-rate-limits", default=False, show_default=True,
              help="Answer 429 (Telegram) or status 12 (Viber) over the messengers' rate limits.")
@click.option("--telegram-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Telegram sendMessage per second per bot when limits are enforced  [default: 30]")
@click.option("--telegram-chat-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Telegram sendMessage per second per chat when limits are enforced  [default: 1]")
@click.option("--error-rate", "error_rates", multiple=True, metavar="METHOD=RATE[:CODE]",
              help="Fail this share of calls, e.g. telegram.sendMessage=0.2:502 or "
                   "viber.send_message=0.1:12 (a Viber CODE >= 500 is a bare HTTP status). Repeatable.")
@click.option("--viber-billing", type=click.Choice(["per_message", "quota"]), default=None,
              help="How Viber bills bot messages outside a session  [default: per_message]")
@click.option("--viber-free-messages-per-month", type=click.IntRange(min=0), default=None,
              help="Free bot-initiated Viber messages a calendar month, on the quota model  [default: 0]")
@click.option("--viber-session-seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="How long a customer's message keeps the bot's Viber messages free  [default: 86400]")
@click.option("--viber-balance-messages", type=click.IntRange(min=0), default=None,
              help="Billable Viber messages the account can pay for  [default: unlimited]")
@click.option("--seed", type=int, default=None, help="Seed for injected errors and random latency.")
@click.option("--threads", type=click.IntRange(min=1), default=DEFAULT_THREADS, show_default=True,
              help="Requests served at once (gunicorn gthread threads, in the one process that holds the state).")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="Log every request to stdout (bot tokens redacted).")
def sandbox_command(host: str, port: int, telegram_token: str, viber_token: str,
                    telegram_bot_username: str, viber_bot_uri: str, latency_ms: float,
                    latency_jitter_ms: float, enforce_rate_limits: bool, telegram_rate: float | None,
                    telegram_chat_rate: float | None, error_rates: tuple[str, ...],
                    viber_billing: str | None, viber_free_messages_per_month: int | None,
                    viber_session_seconds: float | None, viber_balance_messages: int | None,
                    seed: int | None, threads: int, access_log: bool) -> None:
    """Run a local Telegram Bot API and Viber REST API with virtual customers.

    No tokens, no internet: point omnibot at TELEGRAM_API_URL=http://HOST:PORT and
    VIBER_API_URL=http://HOST:PORT/pa with the tokens above. Create customers and make them
    click links, share contacts or block the bot through the control API under /sandbox/
    (e.g. POST /sandbox/customers); GET /sandbox/customers/<id>/messages shows what they got.
    State is in memory and is lost on exit. The fault options set the faults in force at start
    (and after POST /sandbox/reset); PUT /sandbox/faults changes them while running.
    """
    from omnibot_sandbox.server import run

    viber_terms = {"viber_billing": viber_billing,
                   "viber_free_messages_per_month": viber_free_messages_per_month,
                   "viber_session_seconds": viber_session_seconds,
                   "viber_balance_messages": viber_balance_messages}
    faults = initial_faults(latency_ms, latency_jitter_ms, enforce_rate_limits, telegram_rate,
                            telegram_chat_rate, error_rates, seed, viber_terms)
    run(host, port, SandboxConfig(
        telegram_token=telegram_token, viber_token=viber_token,
        telegram_bot_username=telegram_bot_username, viber_bot_uri=viber_bot_uri, faults=faults,
    ), threads=threads, access_log=access_log)


if __name__ == "__main__":
    sandbox_command()
