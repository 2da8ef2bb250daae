"""Converting between table rows and domain objects: enums travel as their string values."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Row

from omnibot.domain.model import (
    AttemptOutcome,
    Billing,
    Channel,
    ChannelState,
    Contact,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    Price,
    Priority,
)
from omnibot.ports import BotReply, OutgoingMessage

PRIORITY_OF_RANK = {priority.rank: priority for priority in Priority}


def contact_values(contact: Contact) -> dict[str, Any]:
    """The columns ``update`` writes; ``id`` and ``created_at`` are fixed at insert."""
    return {
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "language": contact.language,
        "telegram_chat_id": contact.telegram_chat_id,
        "telegram_state": ChannelState(contact.telegram_state).value,
        "viber_user_id": contact.viber_user_id,
        "viber_state": ChannelState(contact.viber_state).value,
        "phone_verified": bool(contact.phone_verified),
        "telegram_linked_at": contact.telegram_linked_at,
        "viber_linked_at": contact.viber_linked_at,
        "viber_last_message_at": contact.viber_last_message_at,
    }


def contact(row: Row[Any]) -> Contact:
    return Contact(
        id=row.id,
        phone=row.phone,
        first_name=row.first_name,
        last_name=row.last_name,
        language=row.language,
        telegram_chat_id=row.telegram_chat_id,
        telegram_state=ChannelState(row.telegram_state),
        viber_user_id=row.viber_user_id,
        viber_state=ChannelState(row.viber_state),
        phone_verified=bool(row.phone_verified),
        telegram_linked_at=row.telegram_linked_at,
        viber_linked_at=row.viber_linked_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        viber_last_message_at=row.viber_last_message_at,
    )


def notification_progress(notification: Notification) -> dict[str, Any]:
    """The columns ``update`` saves: what became of the notification."""
    return {
        "status": NotificationStatus(notification.status).value,
        "channel": None if notification.channel is None else Channel(notification.channel).value,
        "contact_id": notification.contact_id,
        "result": notification.result,
        "updated_at": notification.updated_at,
        "next_attempt_at": notification.next_attempt_at,
    }


def notification_request(notification: Notification) -> dict[str, Any]:
    """The columns fixed when a notification is accepted: what the shop asked for."""
    return {
        "id": notification.id,
        "phone": notification.phone,
        "order_id": notification.order_id,
        "event": notification.event,
        "items": list(notification.items),
        "text": notification.text,
        "channels": None if notification.channels is None else [Channel(c).value for c in notification.channels],
        "callback_url": notification.callback_url,
        "request_id": notification.request_id,
        "created_at": notification.created_at,
        "expires_at": notification.expires_at,
        "priority": Priority(notification.priority).rank,
    }


def notification(row: Row[Any], attempts: list[DeliveryAttempt]) -> Notification:
    return Notification(
        id=row.id,
        phone=row.phone,
        order_id=row.order_id,
        items=list(row.items),
        event=row.event,
        status=NotificationStatus(row.status),
        channel=None if row.channel is None else Channel(row.channel),
        contact_id=row.contact_id,
        result=row.result,
        text=row.text,
        channels=None if row.channels is None else [Channel(c) for c in row.channels],
        callback_url=row.callback_url,
        next_attempt_at=row.next_attempt_at,
        request_id=row.request_id,
        expires_at=row.expires_at,
        priority=PRIORITY_OF_RANK[row.priority],
        attempts=attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def attempt(row: Row[Any]) -> DeliveryAttempt:
    return DeliveryAttempt(
        channel=Channel(row.channel),
        outcome=AttemptOutcome(row.outcome),
        error=row.error,
        provider_message_id=row.provider_message_id,
        created_at=row.created_at,
        price=None if row.price_amount is None else Price(Decimal(row.price_amount), row.price_currency),
        billing=None if row.billing is None else Billing(row.billing),
    )


def attempt_values(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "channel": Channel(attempt.channel).value,
        "outcome": AttemptOutcome(attempt.outcome).value,
        "error": attempt.error,
        "provider_message_id": attempt.provider_message_id,
        "created_at": attempt.created_at,
        "price_amount": None if attempt.price is None else attempt.price.amount,
        "price_currency": None if attempt.price is None else attempt.price.currency,
        "billing": None if attempt.billing is None else Billing(attempt.billing).value,
    }


def message_text(message: OutgoingMessage) -> str:
    return json.dumps(dataclasses.asdict(message), ensure_ascii=False)


def bot_reply(channel: str, address: str, message: str) -> BotReply:
    return BotReply(Channel(channel), address, OutgoingMessage(**json.loads(message)))


def reply_text(reply: BotReply) -> str:
    """The reply as kept with a handled update (the update's row names the channel)."""
    return json.dumps({"address": reply.address, **dataclasses.asdict(reply.message)}, ensure_ascii=False)


def reply_from_text(channel: str, text: str) -> BotReply:
    fields = json.loads(text)
    address = fields.pop("address")
    return BotReply(Channel(channel), address, OutgoingMessage(**fields))
