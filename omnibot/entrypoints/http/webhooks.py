"""Inbound updates from the messengers: deep-link starts, shared contacts, stop, blocks, receipts."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import ValidationError

from omnibot.adapters.viber import SHARE_PHONE_TRACKING, signature_is_valid
from omnibot.bootstrap import Services
from omnibot.domain.errors import DeliveryFailure
from omnibot.domain.model import Channel, ChannelState, NotificationStatus
from omnibot.entrypoints.http import json_text, webhook_kinds
from omnibot.entrypoints.http.errors import ApiError, from_validation_error
from omnibot.entrypoints.http.inbound import TelegramUpdate, TelegramUser, ViberCallback, ViberUser
from omnibot.ports import MessengerGateway, OutgoingMessage
from omnibot.services.delivery import DELIVERY_FAILED
from omnibot.services.linking import MessengerUser

log = logging.getLogger(__name__)
_RECEIPTS = {"delivered": NotificationStatus.DELIVERED, "seen": NotificationStatus.SEEN}


def blueprint(services: Services) -> Blueprint:
    hooks = Blueprint("webhooks", __name__)
    linking = services.linking
    secret = services.settings.telegram_webhook_key()
    viber_token = services.settings.secret("viber_auth_token")

    @hooks.post("/webhook/telegram")
    def telegram() -> Response:
        if services.telegram is None or secret is None:
            raise ApiError(404, "channel_disabled", "Telegram is not configured on this omnibot")
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        # Always checked: without it anyone could post a "contact" and take over a customer's chat.
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("webhook.rejected channel=telegram reason=secret_token")
            services.telemetry.webhook_update(Channel.TELEGRAM, webhook_kinds.REJECTED)
            raise ApiError(401, "unauthorized", "missing or wrong X-Telegram-Bot-Api-Secret-Token")
        update = _parse(TelegramUpdate)
        services.telemetry.webhook_update(Channel.TELEGRAM, webhook_kinds.telegram(update))
        # Telegram redelivers an update it thinks failed: act on each update_id once.
        key = str(update.update_id)
        if services.updates.seen(Channel.TELEGRAM, key):
            log.info("webhook.duplicate channel=telegram")
            return jsonify({"ok": True})
        reply = _handle_telegram(update, services)
        if reply is not None:
            _send(services.telegram, *reply)
        services.updates.remember(Channel.TELEGRAM, key)
        return jsonify({"ok": True})

    @hooks.post("/webhook/viber")
    def viber() -> Response:
        if services.viber is None or viber_token is None:
            raise ApiError(404, "channel_disabled", "Viber is not configured on this omnibot")
        raw = request.get_data(cache=True)
        if not signature_is_valid(raw, request.headers.get("X-Viber-Content-Signature"), viber_token):
            log.warning("webhook.rejected channel=viber reason=signature")
            services.telemetry.webhook_update(Channel.VIBER, webhook_kinds.REJECTED)
            raise ApiError(403, "bad_signature", "X-Viber-Content-Signature does not match the body")
        callback = _parse(ViberCallback)
        services.telemetry.webhook_update(Channel.VIBER, webhook_kinds.viber(callback))
        key = f"{callback.event}:{callback.message_token}" if callback.message_token is not None else None
        if key is not None and services.updates.seen(Channel.VIBER, key):
            log.info("webhook.duplicate channel=viber event=%s", callback.event)
            return jsonify({"status": 0})
        if callback.event == "conversation_started" and callback.user:
            # Viber allows no send_message before the customer subscribes: the welcome goes back
            # in this response, the one message Viber lets a bot say on conversation_started.
            welcome = linking.start(_viber_user(callback.user), callback.context)
            answer = services.viber.message_body(welcome)
        else:
            reply = _handle_viber(callback, services)
            if reply is not None:
                _send(services.viber, *reply)
            answer = {"status": 0}
        if key is not None:
            services.updates.remember(Channel.VIBER, key)
        return jsonify(answer)

    return hooks


def _handle_telegram(
    update: TelegramUpdate, services: Services
) -> tuple[str, OutgoingMessage] | None:
    linking = services.linking
    if update.my_chat_member and update.my_chat_member.chat.type == "private":
        user = _telegram_user(update.my_chat_member.sender, update.my_chat_member.chat.id)
        status = update.my_chat_member.new_chat_member.status
        if status == "kicked":
            linking.set_state(user, ChannelState.BLOCKED)
        elif status == "member":
            linking.set_state(user, ChannelState.ACTIVE)
        return None
    message = update.message
    if message is None or message.sender is None or message.chat.type != "private":
        return None
    user = _telegram_user(message.sender, message.chat.id)
    if message.contact is not None:
        is_own = message.contact.user_id == message.sender.id
        return user.address, linking.share_contact(user, message.contact.phone_number, is_own)
    text = (message.text or "").strip()
    command, _, payload = text.partition(" ")
    if command.split("@")[0] == "/start":
        return user.address, linking.start(user, payload or None)
    if command.split("@")[0] == "/stop":
        return user.address, linking.stop(user)
    if text:
        return user.address, linking.text(user)
    return None


def _handle_viber(callback: ViberCallback, services: Services) -> tuple[str, OutgoingMessage] | None:
    linking = services.linking
    if callback.event in _RECEIPTS and callback.message_token is not None:
        status = _RECEIPTS[callback.event]
        updated = services.queue.record_receipt(Channel.VIBER, str(callback.message_token), status)
        if updated is not None and updated.status is status:
            services.callbacks.status_changed(updated)
    elif callback.event == "failed" and callback.message_token is not None:
        error = f"Viber could not deliver it: {(callback.desc or 'no reason given')[:200]}"
        log.warning("webhook.viber_delivery_failed message_token=%s", callback.message_token)
        updated = services.queue.record_undelivered(Channel.VIBER, str(callback.message_token), error,
                                                    DELIVERY_FAILED)
        if updated is not None:  # only the callback that changed it tells the shop and the metrics
            services.telemetry.finished(updated)
            services.callbacks.status_changed(updated)
    elif callback.event == "subscribed" and callback.user:
        linking.set_state(_viber_user(callback.user), ChannelState.ACTIVE)
    elif callback.event == "unsubscribed" and callback.user_id:
        linking.set_state(MessengerUser(Channel.VIBER, callback.user_id), ChannelState.OPTED_OUT)
    elif callback.event == "message" and callback.sender and callback.message:
        user = _viber_user(callback.sender)
        contact = callback.message.contact
        if callback.message.type == "contact" and contact and contact.phone_number:
            # Viber's share-phone button shares the sender's own number; any other contact card
            # (one picked from the address book) may be anyone's.
            answers_keyboard = callback.message.tracking_data == SHARE_PHONE_TRACKING
            return user.address, linking.share_contact(user, contact.phone_number, is_own=answers_keyboard)
        return user.address, linking.text(user)
    return None


def _parse(model: type[Any]) -> Any:
    try:
        data = json_text.load(request.get_data(cache=True))
    except json_text.JsonRejected as rejected:
        raise ApiError(400, "malformed_json", rejected.message) from None
    try:
        return model.model_validate(json_text.storable(data))
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def _send(gateway: MessengerGateway, address: str, message: OutgoingMessage) -> None:
    try:
        gateway.send(address, message)
    except DeliveryFailure as failure:
        # The update itself was handled; a lost reply must not make the messenger redeliver it.
        log.warning("webhook.reply_failed channel=%s reason=%s", gateway.channel, failure.reason)


def _telegram_user(user: TelegramUser, chat_id: int) -> MessengerUser:
    return MessengerUser(Channel.TELEGRAM, str(chat_id), user.first_name, user.last_name,
                         user.language_code)


def _viber_user(user: ViberUser) -> MessengerUser:
    name = (user.name or "").strip()
    first, _, last = name.partition(" ")
    return MessengerUser(Channel.VIBER, user.id, first or None, last or None, user.language)
