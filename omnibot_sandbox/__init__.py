"""The messenger sandbox: a local Telegram Bot API and Viber REST API with virtual customers.

Point omnibot at it with ``TELEGRAM_API_URL=http://127.0.0.1:5001`` and
``VIBER_API_URL=http://127.0.0.1:5001/pa`` and the tokens below; drive the customers through the
control API under ``/sandbox``. It shares no code with omnibot's own messenger adapters, so it
tests them rather than mirrors them.
"""

from omnibot_sandbox.app import create_app
from omnibot_sandbox.config import (
    SANDBOX_TELEGRAM_BOT_USERNAME,
    SANDBOX_TELEGRAM_TOKEN,
    SANDBOX_VIBER_BOT_URI,
    SANDBOX_VIBER_TOKEN,
    SandboxConfig,
)

__all__ = [
    "SANDBOX_TELEGRAM_BOT_USERNAME",
    "SANDBOX_TELEGRAM_TOKEN",
    "SANDBOX_VIBER_BOT_URI",
    "SANDBOX_VIBER_TOKEN",
    "SandboxConfig",
    "create_app",
]
