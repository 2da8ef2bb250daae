"""Inbound updates from the messengers: verified by the messenger's adapter, parsed into the
inbound use case's events, answered with the reply when the messenger lets the answer carry it."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import ValidationError
from werkzeug.datastructures import Headers

from omnibot.bootstrap import Services
from omnibot.domain.model import Channel, ChannelState, NotificationStatus
from omnibot.entrypoints.http import json_text
from omnibot.entrypoints.http.api.openapi import Operation, Param, Reply, documented
from omnibot.entrypoints.http.api.operations import (
    CHANNEL_DISABLED,
    CONFLICT,
    DATABASE_UNAVAILABLE,
    TELEGRAM_SECRET,
    TOO_LARGE,
    WEBHOOKS,
)
from omnibot.entrypoints.http.api.responses import ErrorBody, TelegramAnswer, ViberAnswer
from omnibot.entrypoints.http.errors import ApiError, from_validation_error
from omnibot.entrypoints.http.webhooks import kinds as webhook_kinds
from omnibot.entrypoints.http.webhooks.payloads import TelegramUpdate, TelegramUser, ViberCallback, ViberUser
from omnibot.ports import WebhookEndpoint
from omnibot.services.inbound import (
    Event,
    InboundUpdate,
    Receipt,
    SharedContact,
    Started,
    StateReported,
    Stopped,
    Texted,
    Undelivered,
)
from omnibot.services.linking import MessengerUser

log = logging.getLogger(__name__)
_RECEIPTS = {"delivered": NotificationStatus.DELIVERED, "seen": NotificationStatus.SEEN}
_MEMBER_STATES = {"kicked": ChannelState.BLOCKED, "member": ChannelState.ACTIVE}
_REJECTIONS = {
    Channel.TELEGRAM: (401, "unauthorized", "missing or wrong X-Telegram-Bot-Api-Secret-Token", "secret_token"),
    Channel.VIBER: (403, "bad_signature", "X-Viber-Content-Signature does not match the body", "signature"),
}


def blueprint(services: Services) -> Blueprint:
    hooks = Blueprint("webhooks", __name__)

    def authentic(channel: Channel) -> WebhookEndpoint:
        endpoint = services.webhooks.get(channel)
        if endpoint is None:
            raise ApiError(404, "channel_disabled", f"{channel.value.capitalize()} is not configured on this omnibot")
        if not endpoint.authentic(_HeaderView(request.headers), request.get_data(cache=True)):
            status, code, message, reason = _REJECTIONS[channel]
            log.warning("webhook.rejected channel=%s reason=%s", channel, reason)
            services.telemetry.webhook_update(channel, webhook_kinds.REJECTED)
            raise ApiError(status, code, message)
        return endpoint

    @hooks.post("/webhook/telegram")
    @documented(Operation(
        "Telegram updates", TelegramUpdate,
        {200: Reply("Handled, or a repeat of an update already handled (answered alike): the reply to the "
                    "customer as a `sendMessage` call Telegram makes for the bot, or `{\"ok\": true}`.",
                    TelegramAnswer),
         400: Reply("Not a JSON update (`malformed_json`, `missing_field`, `invalid_field`).", ErrorBody),
         401: Reply("Missing or wrong `X-Telegram-Bot-Api-Secret-Token` (`unauthorized`).", ErrorBody),
         404: CHANNEL_DISABLED, 409: CONFLICT, 413: TOO_LARGE, 503: DATABASE_UNAVAILABLE},
        TELEGRAM_SECRET, tag=WEBHOOKS, operation_id="telegramWebhook",
        examples={"start": {"update_id": 1, "message": {
            "message_id": 1, "from": {"id": 42, "is_bot": False, "first_name": "Olena"},
            "chat": {"id": 42, "type": "private"}, "text": "/start ORD-1234"}}},
        description="Registered with Telegram by `omnibot set-webhooks`. Unknown fields are ignored.",
    ))
    def telegram() -> Response:
        endpoint = authentic(Channel.TELEGRAM)
        update = _parse(TelegramUpdate)
        services.telemetry.webhook_update(Channel.TELEGRAM, webhook_kinds.telegram(update))
        event = _telegram_event(update)
        if event is None:
            return jsonify(endpoint.answer(None))
        # Telegram redelivers an update it thinks failed: the update_id names it.
        reply = services.inbound.handle(InboundUpdate(Channel.TELEGRAM, str(update.update_id), event,
                                                      reply_in_answer=True))
        return jsonify(endpoint.answer(reply))

    @hooks.post("/webhook/viber")
    @documented(Operation(
        "Viber callbacks", ViberCallback,
        {200: Reply("Handled; on `conversation_started`, the welcome message.", ViberAnswer),
         400: Reply("Not a JSON callback (`malformed_json`, `missing_field`, `invalid_field`).", ErrorBody),
         403: Reply("`X-Viber-Content-Signature` does not match the body (`bad_signature`).", ErrorBody),
         404: CHANNEL_DISABLED, 409: CONFLICT, 413: TOO_LARGE, 503: DATABASE_UNAVAILABLE},
        None,
        (Param("X-Viber-Content-Signature", "Hex HMAC-SHA256 of the raw body keyed with `VIBER_AUTH_TOKEN`; "
               "checked before anything is read.", required=True),),
        tag=WEBHOOKS, operation_id="viberWebhook",
        examples={"conversation_started": {"event": "conversation_started", "context": "ORD-1234",
                                           "user": {"id": "01234567890A=", "name": "Olena"}}},
        description="Registered with Viber by `omnibot set-webhooks`. Unknown fields are ignored.",
    ))
    def viber() -> Response:
        endpoint = authentic(Channel.VIBER)
        callback = _parse(ViberCallback)
        services.telemetry.webhook_update(Channel.VIBER, webhook_kinds.viber(callback))
        event = _viber_event(callback, endpoint.share_phone_tag)
        if event is None:
            return jsonify(endpoint.answer(None))
        key = f"{callback.event}:{callback.message_token}" if callback.message_token is not None else None
        # Viber lets a bot say one thing before the customer subscribes: the welcome, in the answer
        # to conversation_started. Every other reply goes through the outbox.
        reply = services.inbound.handle(InboundUpdate(Channel.VIBER, key, event,
                                                      reply_in_answer=callback.event == "conversation_started"))
        return jsonify(endpoint.answer(reply))

    return hooks


def _telegram_event(update: TelegramUpdate) -> Event | None:
    member = update.my_chat_member
    if member is not None:
        state = _MEMBER_STATES.get(member.new_chat_member.status)
        if member.chat.type != "private" or state is None:
            return None
        return StateReported(_telegram_user(member.sender, member.chat.id), state)
    message = update.message
    if message is None or message.sender is None or message.chat.type != "private":
        return None
    user = _telegram_user(message.sender, message.chat.id)
    if message.contact is not None:
        return SharedContact(user, message.contact.phone_number, is_own=message.contact.user_id == message.sender.id)
    text = (message.text or "").strip()
    command, _, payload = text.partition(" ")
    command = command.split("@")[0]
    if command == "/start":
        return Started(user, payload or None)
    if command == "/stop":
        return Stopped(user)
    return Texted(user) if text else None


def _viber_event(callback: ViberCallback, share_phone_tag: str | None) -> Event | None:
    event, token = callback.event, callback.message_token
    if event in _RECEIPTS and token is not None:
        return Receipt(Channel.VIBER, str(token), _RECEIPTS[event])
    if event == "failed" and token is not None:
        return Undelivered(Channel.VIBER, str(token), callback.desc or "no reason given")
    if event == "conversation_started" and callback.user:
        return Started(_viber_user(callback.user), callback.context)
    if event == "subscribed" and callback.user:
        return StateReported(_viber_user(callback.user), ChannelState.ACTIVE)
    if event == "unsubscribed" and callback.user_id:
        return StateReported(MessengerUser(Channel.VIBER, callback.user_id), ChannelState.OPTED_OUT)
    if event == "message" and callback.sender and callback.message:
        user = _viber_user(callback.sender)
        contact = callback.message.contact
        if callback.message.type == "contact" and contact and contact.phone_number:
            # Viber's share-phone button shares the sender's own number; any other contact card
            # (one picked from the address book) may be anyone's.
            return SharedContact(user, contact.phone_number,
                                 is_own=share_phone_tag is not None
                                 and callback.message.tracking_data == share_phone_tag)
        return Texted(user)
    return None


class _HeaderView(Mapping[str, str]):
    """A request's headers as the mapping the webhook port reads: Werkzeug's ``Headers`` is not a
    ``Mapping``, and a plain dict would lose its case-insensitive lookup."""

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def __getitem__(self, name: str) -> str:
        return self._headers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers.keys())

    def __len__(self) -> int:
        return len(self._headers)


def _parse(model: type[Any]) -> Any:
    try:
        data = json_text.load(request.get_data(cache=True))
    except json_text.JsonRejected as rejected:
        raise ApiError(400, "malformed_json", rejected.message) from None
    try:
        return model.model_validate(json_text.storable(data))
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def _telegram_user(user: TelegramUser, chat_id: int) -> MessengerUser:
    return MessengerUser(Channel.TELEGRAM, str(chat_id), user.first_name, user.last_name,
                         user.language_code)


def _viber_user(user: ViberUser) -> MessengerUser:
    name = (user.name or "").strip()
    first, _, last = name.partition(" ")
    return MessengerUser(Channel.VIBER, user.id, first or None, last or None, user.language)
