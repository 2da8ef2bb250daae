"""What a sandbox instance pretends to be: its tokens, bot names and how it talks to webhooks."""

from __future__ import annotations

from dataclasses import dataclass

from omnibot_sandbox.fault_settings import FaultSettings

SANDBOX_TELEGRAM_TOKEN = "123456789:AAsandbox-telegram-token-0000000000"
SANDBOX_VIBER_TOKEN = "sandbox-viber-auth-token"
SANDBOX_TELEGRAM_BOT_USERNAME = "omnibot_sandbox_bot"
SANDBOX_VIBER_BOT_URI = "omnibotsandbox"


@dataclass(frozen=True)
class SandboxConfig:
    """One emulated Telegram bot and one emulated Viber public account."""

    telegram_token: str = SANDBOX_TELEGRAM_TOKEN
    viber_token: str = SANDBOX_VIBER_TOKEN
    telegram_bot_username: str = SANDBOX_TELEGRAM_BOT_USERNAME
    viber_bot_uri: str = SANDBOX_VIBER_BOT_URI
    telegram_bot_name: str = "Omnibot Sandbox"
    viber_account_name: str = "Omnibot Sandbox"
    # Seconds to wait for the bot's webhook to answer one update or callback.
    webhook_timeout: float = 10.0
    # Telegram's documentation asks for every stray <, > and & to be escaped, while its parser
    # only rejects a stray "<". Strict mode enforces the documented rule, to catch escaping bugs.
    strict_html: bool = True
    # How many API calls /sandbox/requests keeps; the counters keep counting past it.
    request_log_size: int = 10_000
    # The faults in force at start, and again after POST /sandbox/reset (the command line's).
    faults: FaultSettings | None = None

    @property
    def telegram_bot_id(self) -> int:
        """The bot's user id is the digits before the colon of its token, as in Telegram."""
        digits = self.telegram_token.partition(":")[0]
        return int(digits) if digits.isdigit() else 123456789
