"""Sending to a messenger and answering its webhook: the messages, the gateways, the webhook's side."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from omnibot.domain.model import Channel


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to one customer.

    ``text`` is plain text (Viber, and Telegram without formatting); ``html`` is the same message
    already escaped for Telegram's HTML parse mode. ``request_phone`` asks the messenger to show
    a share-my-phone button; ``remove_keyboard`` hides a button shown earlier.
    """

    text: str
    html: str | None = None
    request_phone: bool = False
    request_phone_label: str = "Share my phone"
    remove_keyboard: bool = False


@dataclass(frozen=True)
class SendReceipt:
    """The messenger's id of the message it accepted."""

    provider_message_id: str


class MessengerGateway(Protocol):
    """Sends messages through one messenger; raises ``PermanentFailure`` / ``TransientFailure``."""

    channel: Channel

    def send(self, address: str, message: OutgoingMessage) -> SendReceipt: ...

    async def send_async(self, address: str, message: OutgoingMessage) -> SendReceipt:
        """``send`` for the delivery worker's event loop: it waits without holding a thread."""
        ...


@dataclass(frozen=True)
class BotReply:
    """What the bot answers one customer, on the messenger the customer wrote on."""

    channel: Channel
    address: str
    message: OutgoingMessage


class WebhookEndpoint(Protocol):
    """A messenger's side of omnibot's webhook: which updates are authentic, and how an answer
    carries the bot's reply."""

    channel: Channel
    # What the messenger echoes on a contact card sent with the bot's share-phone button, the one
    # card taken as the sender's own number (Viber's tracking_data); None where the messenger says
    # so itself (Telegram's contact.user_id).
    share_phone_tag: str | None

    def authentic(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the update came from the messenger (its secret or its signature)."""
        ...

    def answer(self, reply: BotReply | None) -> dict[str, Any]:
        """The webhook's answer, carrying ``reply`` when there is one."""
        ...
