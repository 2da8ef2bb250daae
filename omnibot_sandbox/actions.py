"""Customer actions under /sandbox/customers/<id>/...: each posts the real update to the bot.

Every action answers what the bot's webhook did with it: ``{"delivered": true, "webhook_status",
"webhook_response", ...}``, or ``{"delivered": false, "reason"}`` when there was nobody to tell.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from omnibot_sandbox import links
from omnibot_sandbox.config import SandboxConfig
from omnibot_sandbox.control import body, customer_or_404
from omnibot_sandbox.schemas import (
    Empty,
    OpenLink,
    Receipt,
    Silent,
    TelegramContact,
    TelegramStart,
    Text,
    ViberOpen,
)
from omnibot_sandbox.state import TELEGRAM, SandboxState
from omnibot_sandbox.telegram_customer import TelegramCustomers
from omnibot_sandbox.viber_customer import ViberCustomers


def blueprint(config: SandboxConfig, state: SandboxState, telegram: TelegramCustomers,
              viber: ViberCustomers) -> Blueprint:
    actions = Blueprint("actions", __name__, url_prefix="/sandbox/customers/<customer_id>")

    @actions.post("/open-link")
    def open_link(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        link = links.parse(body(OpenLink).url, config)
        if link.channel == TELEGRAM:
            return jsonify(telegram.start(customer, link.payload))
        return jsonify(viber.open(customer, link.payload))

    @actions.post("/telegram/start")
    def telegram_start(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        return jsonify(telegram.start(customer, body(TelegramStart).payload))

    @actions.post("/telegram/text")
    def telegram_text(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        return jsonify(telegram.text(customer, body(Text).text))

    @actions.post("/telegram/share-contact")
    def telegram_contact(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        card = body(TelegramContact)
        return jsonify(telegram.share_contact(customer, card.own, card.phone, card.name))

    @actions.post("/telegram/block")
    def telegram_block(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        return jsonify(telegram.block(customer, body(Silent).silent))

    @actions.post("/telegram/unblock")
    def telegram_unblock(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        return jsonify(telegram.unblock(customer, body(Silent).silent))

    @actions.post("/viber/open")
    def viber_open(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        return jsonify(viber.open(customer, body(ViberOpen).context))

    @actions.post("/viber/text")
    def viber_text(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        return jsonify(viber.text(customer, body(Text).text))

    @actions.post("/viber/share-contact")
    def viber_contact(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        body(Empty)
        return jsonify(viber.share_contact(customer))

    @actions.post("/viber/subscribe")
    def viber_subscribe(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        return jsonify(viber.subscribe(customer, body(Silent).silent))

    @actions.post("/viber/unsubscribe")
    def viber_unsubscribe(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        return jsonify(viber.unsubscribe(customer, body(Silent).silent))

    @actions.post("/viber/<any(delivered, seen, failed):event>")
    def viber_receipt(customer_id: str, event: str) -> Response:
        customer = customer_or_404(state, customer_id)
        receipt = body(Receipt)
        return jsonify(viber.receipt(customer, event, receipt.message_token, receipt.desc))

    return actions
