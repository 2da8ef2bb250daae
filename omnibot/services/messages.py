"""The texts omnibot sends: order notifications and the bot's own replies."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from omnibot.ports import OutgoingMessage

TELEGRAM_TEXT_LIMIT = 4096
VIBER_TEXT_LIMIT = 7000
_ELLIPSIS = "…"


def order_ready(order_id: str | None, items: Sequence[str]) -> OutgoingMessage:
    """"Your order is ready" with the order id and the items, as plain text and Telegram HTML."""
    order = f" {order_id}" if order_id else ""
    lines = [f"Your order{order} is ready!"]
    html_lines = [f"<b>Your order{escape(order)} is ready!</b>"]
    if items:
        lines.append("Items:")
        html_lines.append("Items:")
        lines += [f"• {item}" for item in items]
        html_lines += [f"• {escape(item)}" for item in items]
    return OutgoingMessage(
        text=_truncate("\n".join(lines), VIBER_TEXT_LIMIT),
        html=_truncate_html(html_lines),
    )


def free_text(text: str) -> OutgoingMessage:
    """A shop's own text, sent as written (escaped for Telegram, not interpreted).

    Telegram counts characters after entity parsing, so the limit applies before escaping.
    """
    return OutgoingMessage(text=_truncate(text, VIBER_TEXT_LIMIT),
                           html=escape(_truncate(text, TELEGRAM_TEXT_LIMIT)))


def welcome(order_id: str | None) -> OutgoingMessage:
    about = f" about order {order_id}" if order_id else " about your orders"
    return OutgoingMessage(
        text=(
            f"Hello! This chat will notify you{about}. "
            "Please tap the button below to share your phone number, so we can match your orders."
        ),
        request_phone=True,
    )


def welcome_known(order_id: str | None) -> OutgoingMessage:
    about = f"order {order_id}" if order_id else "your orders"
    return OutgoingMessage(
        text=f"Hello again! Updates about {about} will arrive in this chat.",
        remove_keyboard=True,
    )


def phone_linked() -> OutgoingMessage:
    return OutgoingMessage(
        text="Thank you! Your phone number is linked: order updates will arrive in this chat.",
        remove_keyboard=True,
    )


def share_own_phone() -> OutgoingMessage:
    return OutgoingMessage(
        text="Please share your own phone number with the button below.", request_phone=True
    )


def phone_unreadable() -> OutgoingMessage:
    return OutgoingMessage(
        text="Sorry, we could not read that phone number. Please use the button below.",
        request_phone=True,
    )


def help_text() -> OutgoingMessage:
    return OutgoingMessage(
        text=(
            "This bot sends you updates about your orders. "
            "Open the link from your order e-mail or SMS to connect an order."
        )
    )


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def _truncate_html(lines: list[str]) -> str:
    # Cut whole lines so no tag or entity is split; Telegram counts the text after parsing,
    # so the escaped length is a safe upper bound.
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > TELEGRAM_TEXT_LIMIT - 2:
            kept.append(_ELLIPSIS)
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)
