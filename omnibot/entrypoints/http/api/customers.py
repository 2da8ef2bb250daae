"""The shop's customer-side API: signed deep links, and a customer's record (view, erase)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, jsonify

from omnibot.bootstrap import Services
from omnibot.domain.model import Channel, Contact
from omnibot.entrypoints.http.api.notifications import parse_body, parse_phone, require_api_key
from omnibot.entrypoints.http.api.openapi import Operation, Reply, documented
from omnibot.entrypoints.http.api.operations import (
    API_KEY,
    BAD_REQUEST,
    CONFLICT,
    CUSTOMERS,
    DATABASE_UNAVAILABLE,
    NOT_FOUND,
    PHONE,
    REQUEST_ID,
    TOO_LARGE,
    UNAUTHORIZED,
)
from omnibot.entrypoints.http.api.responses import ErrorBody
from omnibot.entrypoints.http.api.schemas import ChannelView, ContactView, ErasedView, LinkCreate, LinkView
from omnibot.entrypoints.http.errors import ApiError


def blueprint(services: Services) -> Blueprint:
    customers = Blueprint("customers", __name__)
    region = services.settings.default_phone_region
    customers.before_request(require_api_key(services.settings.api_keys()))

    @customers.post("/v1/links")
    @documented(Operation(
        "Create a signed deep link for a customer's phone", LinkCreate,
        {201: Reply("The link, for the order e-mail or SMS.", LinkView), 400: BAD_REQUEST, 401: UNAUTHORIZED,
         409: CONFLICT, 413: TOO_LARGE, 503: DATABASE_UNAVAILABLE},
        API_KEY, (REQUEST_ID,), tag=CUSTOMERS, operation_id="createLink",
        examples={"order_link": {"phone": "+380501234567", "order_id": "ORD-1234"}},
    ))
    def create_link() -> tuple[Response, int]:
        body = parse_body(LinkCreate)
        ttl = None if body.ttl_seconds is None else timedelta(seconds=body.ttl_seconds)
        link = services.links.create(parse_phone(body.phone, region), body.order_id, ttl)
        view = LinkView(token=link.token, phone=link.phone, order_id=link.order_id, expires_at=link.expires_at,
                        telegram_url=link.telegram_url, viber_url=link.viber_url)
        return jsonify(view.model_dump(mode="json")), 201

    @customers.get("/v1/contacts/<path:phone>")
    @documented(Operation(
        "A customer's record", None,
        {200: Reply("The customer and their messengers.", ContactView), 400: BAD_REQUEST, 401: UNAUTHORIZED,
         404: Reply("No customer with this phone (`not_found`).", ErrorBody), 503: DATABASE_UNAVAILABLE},
        API_KEY, (PHONE, REQUEST_ID), tag=CUSTOMERS, operation_id="getContact",
    ))
    def get_contact(phone: str) -> Response:
        contact = services.records.find(parse_phone(phone, region))
        if contact is None:
            raise ApiError(404, "not_found", "no customer with this phone")
        return jsonify(contact_view(contact).model_dump(mode="json"))

    @customers.delete("/v1/contacts/<path:phone>")
    @documented(Operation(
        "Erase a customer", None,
        {200: Reply("What was erased; `erased` is false when there was no such customer.", ErasedView),
         400: BAD_REQUEST, 401: UNAUTHORIZED, 404: NOT_FOUND, 409: CONFLICT, 503: DATABASE_UNAVAILABLE},
        API_KEY, (PHONE, REQUEST_ID), tag=CUSTOMERS, operation_id="eraseContact",
    ))
    def erase_contact(phone: str) -> Response:
        erased = services.records.erase(parse_phone(phone, region))
        return jsonify(ErasedView(erased=erased.contact, notifications_anonymized=erased.notifications_anonymized,
                                  links_deleted=erased.links_deleted).model_dump(mode="json"))

    return customers


def contact_view(contact: Contact) -> ContactView:
    def channel(which: Channel) -> ChannelView:
        linked = contact.address(which) is not None
        linked_at = contact.telegram_linked_at if which is Channel.TELEGRAM else contact.viber_linked_at
        return ChannelView(linked=linked, state=contact.state(which) if linked else None, linked_at=linked_at)

    return ContactView(phone=contact.phone or "", phone_verified=contact.phone_verified,
                       first_name=contact.first_name, last_name=contact.last_name, language=contact.language,
                       telegram=channel(Channel.TELEGRAM), viber=channel(Channel.VIBER), created_at=contact.created_at)
