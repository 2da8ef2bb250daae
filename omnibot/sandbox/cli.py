"""``omnibot sandbox``: run the messenger emulator from the command line."""

from __future__ import annotations

import click

from omnibot.sandbox.config import (
    SANDBOX_TELEGRAM_BOT_USERNAME,
    SANDBOX_TELEGRAM_TOKEN,
    SANDBOX_VIBER_BOT_URI,
    SANDBOX_VIBER_TOKEN,
    SandboxConfig,
)


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
def sandbox_command(host: str, port: int, telegram_token: str, viber_token: str,
                    telegram_bot_username: str, viber_bot_uri: str) -> None:
    """Run a local Telegram Bot API and Viber REST API with virtual customers.

    No tokens, no internet: point omnibot at TELEGRAM_API_URL=http://HOST:PORT and
    VIBER_API_URL=http://HOST:PORT/pa with the tokens above. Create customers and make them
    click links, share contacts or block the bot through the control API under /sandbox/
    (e.g. POST /sandbox/customers); GET /sandbox/customers/<id>/messages shows what they got.
    State is in memory and is lost on exit.
    """
    from omnibot.sandbox.server import run

    run(host, port, SandboxConfig(
        telegram_token=telegram_token, viber_token=viber_token,
        telegram_bot_username=telegram_bot_username, viber_bot_uri=viber_bot_uri,
    ))


if __name__ == "__main__":
    sandbox_command()
