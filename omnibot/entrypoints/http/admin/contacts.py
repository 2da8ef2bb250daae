"""The dashboard's customers: search by phone, one customer's channels, signed deep links, erasing a customer."""

from __future__ import annotations

import contextlib
import logging

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from omnibot import bootstrap
from omnibot.domain.errors import InvalidPhone
from omnibot.domain.model import Channel, Contact
from omnibot.domain.phone import mask_phone, normalize_phone
from omnibot.entrypoints.http.admin.notifications import page_number
from omnibot.ports.dashboard import NotificationFilter

log = logging.getLogger(__name__)

PAGE_SIZE = 50
ORDER_ID_MAX = 128
CONTACT_ID = f"<int(max={2**63 - 1}):contact_id>"  # a 64-bit id: larger ones are 404, not a database error


def register(admin: Blueprint, services: bootstrap.Services) -> None:
    queries = services.store.dashboard
    region = services.settings.default_phone_region

    def contact_or_404(contact_id: int) -> Contact:
        found = services.store.contacts.get(contact_id)
        if found is None:
            abort(404, "No customer with this id (erased, or merged into another).")
        return found

    @admin.get("/contacts")
    def contacts() -> str:
        search = request.args.get("phone", "").strip()
        page = page_number(request.args.get("page", ""))
        digits = "".join(ch for ch in search if ch.isdigit())
        with contextlib.suppress(InvalidPhone):  # a whole number in any spelling: its E.164 digits (050… too)
            digits = normalize_phone(search, region).lstrip("+")
        rows = queries.contacts(digits or None, page, PAGE_SIZE)
        return render_template("admin/contacts.html", rows=rows, search=search,
                               args={"phone": search} if search else {})

    @admin.get(f"/contacts/{CONTACT_ID}")
    def contact(contact_id: int) -> str:
        found = contact_or_404(contact_id)
        where = NotificationFilter(phone=found.phone) if found.phone else NotificationFilter(contact_id=found.id)
        recent = queries.notifications(where, 1, 20).items
        channels = [(channel, found.address(channel) is not None, found.state(channel),
                     found.telegram_linked_at if channel is Channel.TELEGRAM else found.viber_linked_at)
                    for channel in Channel]
        return render_template("admin/contact.html", c=found, channels=channels, recent=recent)

    @admin.post("/links")
    def create_link() -> tuple[str, int] | str:
        raw_phone, order_id = request.form.get("phone", "").strip(), request.form.get("order_id", "").strip() or None
        try:
            phone = normalize_phone(raw_phone, region)
        except InvalidPhone:
            flash("That is not a phone number; write it as +380501234567 or 0501234567.")
            return render_template("admin/contacts.html", rows=None, search="", args={},
                                   link_form={"phone": raw_phone, "order_id": order_id or ""}), 400
        if order_id is not None and (len(order_id) > ORDER_ID_MAX or not order_id.isprintable()):
            abort(400, f"An order id has at most {ORDER_ID_MAX} characters, all printable.")
        link = services.links.create(phone, order_id)
        log.info("admin.link_created phone=%s order=%s", mask_phone(phone), order_id)
        return render_template("admin/link.html", link=link)

    @admin.get(f"/contacts/{CONTACT_ID}/erase")
    def confirm_erase(contact_id: int) -> str:
        return render_template("admin/erase.html", c=contact_or_404(contact_id))

    @admin.post(f"/contacts/{CONTACT_ID}/erase")
    def erase(contact_id: int) -> Response:
        found = contact_or_404(contact_id)
        if not found.phone:
            abort(400, "This customer has no phone number: there is nothing to erase by.")
        erased = services.records.erase(found.phone)
        log.info("admin.erased contact=%s", contact_id)
        flash(f"Erased {mask_phone(found.phone)}: {erased.notifications_anonymized} notifications anonymised, "
              f"{erased.links_deleted} links deleted.")
        return redirect(url_for("admin.contacts"))  # type: ignore[return-value]
