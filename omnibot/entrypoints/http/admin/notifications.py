"""The dashboard's notifications: a filtered live list, one notification's attempts, and resending a failed one."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from omnibot import bootstrap
from omnibot.domain.billing import billing_month
from omnibot.domain.errors import InvalidPhone
from omnibot.domain.model import Billing, Channel, Notification, NotificationStatus
from omnibot.domain.phone import normalize_phone
from omnibot.entrypoints.http.admin import charts as admin_charts
from omnibot.entrypoints.http.api.notifications import decimal_text, is_notification_id
from omnibot.ports.dashboard import DayViber, NotificationFilter, NotificationRow
from omnibot.services.notify import NotificationRequest

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGE = 10_000  # past this the list is not read by paging; and SQLite's OFFSET has a range
MAX_RESENDS_SHOWN = 20
RESEND_PREFIX = "resend:"  # request id of a resend: where it came from, in the log and on the page
BUDGET_WARNING_SHARE = 0.8  # of VIBER_MONTHLY_BUDGET's billable messages: the dashboard warns from here


@dataclass
class Filters:
    """The list's query string, read back for the form, and what it asks of the database."""

    values: dict[str, str]
    query: NotificationFilter
    page: int = 1
    problems: list[str] = field(default_factory=list)


def parse_filters(args: Mapping[str, str], region: str) -> Filters:
    values = {name: args.get(name, "").strip() for name in ("status", "channel", "since", "until", "phone")}
    problems: list[str] = []
    status = _choice(values["status"], NotificationStatus, "status", problems)
    channel = _choice(values["channel"], Channel, "channel", problems)
    since, until = _moment(values["since"], "from", problems), _moment(values["until"], "until", problems)
    phone, digits = None, None
    if values["phone"]:
        try:
            phone = normalize_phone(values["phone"], region)
        except InvalidPhone:
            digits = "".join(ch for ch in values["phone"] if ch.isdigit())
            if len(digits) < 3:
                problems.append("phone: type a whole number or at least 3 of its digits")
                digits = None
    page = page_number(args.get("page", ""))
    query = NotificationFilter(status=status, channel=channel, since=since, until=until, phone=phone,
                               phone_digits=digits)
    return Filters(values, query, page, problems)


def page_number(raw: str) -> int:
    """``?page=``: a page from 1 to MAX_PAGE, or 1 for anything else."""
    try:
        page = int(raw) if raw.isascii() else 1
    except ValueError:
        return 1
    return page if 1 <= page <= MAX_PAGE else 1


def register(admin: Blueprint, services: bootstrap.Services, queue_health: Callable[[], dict[str, Any]]) -> None:
    queries = services.store.dashboard
    region = services.settings.default_phone_region

    def overview() -> dict[str, Any]:
        now = datetime.now(UTC)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month = today.replace(day=1)
        paid_broadcast = services.settings.telegram_paid_broadcast
        billed = queries.billed_since(Channel.TELEGRAM, bootstrap.PAID_BROADCAST_PRICE.currency, month)
        return {"today": queries.sent_by_channel(today), "month": queries.sent_by_channel(month),
                "failed_today": queries.failed_since(today), "viber": viber_spend(now),
                # Shown while paid broadcasts are on, and for the rest of a month they were on in.
                "telegram_paid": ({"on": paid_broadcast, "messages": billed.messages,
                                   "stars": decimal_text(billed.amount)}
                                  if paid_broadcast or billed.messages else None),
                "queue": queue_health()}

    def viber_spend(now: datetime) -> dict[str, Any]:
        """Billable messages from the ledger the budget is enforced on; free ones and money from the attempts."""
        settings = services.settings
        _, billable = services.store.viber_ledger.used(billing_month(now))
        budget = settings.viber_monthly_budget
        sent, spent = _month_totals(queries.viber_per_day(*admin_charts.month_of(now)))
        # Money is shown while a price is configured, and for the rest of a month one was.
        if not spent and settings.viber_message_price is not None:
            spent = {settings.viber_price_currency: Decimal(0)}
        return {"billable": billable, "budget": budget, "level": budget_level(billable, budget),
                "free_session": sent.get(Billing.FREE_SESSION, 0), "free_quota": sent.get(Billing.FREE_QUOTA, 0),
                "free_quota_limit": settings.viber_terms().free_quota,
                "spent": " · ".join(f"{decimal_text(amount)} {currency}" for currency, amount in sorted(spent.items()))}

    def listing() -> dict[str, Any]:
        filters = parse_filters(request.args, region)
        rows = queries.notifications(filters.query, filters.page, PAGE_SIZE)
        args = {k: v for k, v in filters.values.items() if v}
        return {"filters": filters, "rows": rows, "args": args, "statuses": list(NotificationStatus),
                "channels": list(Channel)}

    def charts() -> dict[str, Any]:
        now = datetime.now(UTC)
        return {"charts": [*admin_charts.last_hours(queries, now),
                           admin_charts.viber_this_month(queries, now, services.settings.viber_monthly_budget)],
                "charts_refresh": admin_charts.REFRESH_SECONDS}

    @admin.get("/notifications")
    def notifications() -> str:
        return render_template("admin/notifications.html", overview=overview(), **charts(), **listing())

    @admin.get("/notifications/charts")
    def notifications_charts() -> str:
        """The charts, for the refresh script."""
        return render_template("admin/_charts.html", **charts())

    @admin.get("/notifications/live")
    def notifications_live() -> str:
        """The parts of the list page that change, for the refresh script."""
        return render_template("admin/_notifications_live.html", overview=overview(), **listing())

    @admin.get("/notifications/<notification_id>")
    def notification(notification_id: str) -> str:
        found = _notification_or_404(services, notification_id)
        origin = (found.request_id or "").removeprefix(RESEND_PREFIX) if _is_resend(found) else None
        resends = resends_of(found)
        return render_template("admin/notification.html", n=found, origin=origin, resends=resends,
                               can_resend=_can_resend(found, resends))

    def resends_of(original: Notification) -> list[NotificationRow]:
        return list(queries.notifications(NotificationFilter(request_id=RESEND_PREFIX + original.id), 1,
                                          MAX_RESENDS_SHOWN).items)

    @admin.post("/notifications/<notification_id>/resend")
    def resend(notification_id: str) -> Response:
        original = _notification_or_404(services, notification_id)
        resends = resends_of(original)
        if not _can_resend(original, resends):
            flash("Only a failed or expired notification that still names its customer, and whose last resend "
                  "failed or expired too, can be resent.")
            return redirect(url_for("admin.notification", notification_id=original.id))  # type: ignore[return-value]
        resent, created = services.notifier.submit(
            NotificationRequest(phone=original.phone, order_id=original.order_id, items=original.items,
                                event=original.event, text=original.text, channels=original.channels,
                                callback_url=original.callback_url, priority=original.priority),
            # Keyed by how many resends came before: the same click twice, or two operators at once,
            # make one notification, not two.
            idempotency_key=f"admin-resend:{original.id}:{len(resends)}", request_id=RESEND_PREFIX + original.id)
        if created:
            log.info("admin.resend original=%s notification=%s", original.id, resent.id)
            flash("Resent: a new notification is queued for the workers.")
        return redirect(url_for("admin.notification", notification_id=resent.id))  # type: ignore[return-value]


def budget_level(billable: int, budget: int) -> str | None:
    """How close the month's billable Viber messages are to the budget: "exhausted", "near" (from 80%) or None.

    None too with a budget of 0: billable messages are off by choice, not used up.
    """
    if budget <= 0 or billable < budget * BUDGET_WARNING_SHARE:
        return None
    return "exhausted" if billable >= budget else "near"


def _month_totals(days: list[DayViber]) -> tuple[dict[Billing | None, int], dict[str, Decimal]]:
    sent: dict[Billing | None, int] = {}
    spent: dict[str, Decimal] = {}
    for day in days:
        for billing, count in day.sent.items():
            sent[billing] = sent.get(billing, 0) + count
        for currency, amount in day.spent.items():
            spent[currency] = spent.get(currency, Decimal(0)) + amount
    return sent, spent


def _notification_or_404(services: bootstrap.Services, notification_id: str) -> Notification:
    found = services.store.queue.get(notification_id) if is_notification_id(notification_id) else None
    if found is None:
        abort(404, "No notification with this id.")
    return found


# Ended unsent (or, failed, undelivered): an operator may send it again, with a new deadline.
_RESENDABLE = (NotificationStatus.FAILED, NotificationStatus.EXPIRED)


def _can_resend(notification: Notification, resends: list[NotificationRow]) -> bool:
    """A failed or expired notification that still names its customer, and no resend of it on the way or sent."""
    return (notification.status in _RESENDABLE and bool(notification.phone or notification.order_id)
            and all(row.status in _RESENDABLE for row in resends))


def _is_resend(notification: Notification) -> bool:
    return (notification.request_id or "").startswith(RESEND_PREFIX)


def _choice(value: str, kind: Any, name: str, problems: list[str]) -> Any:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        problems.append(f"{name}: {value!r} is not one of {', '.join(str(v) for v in kind)}")
        return None


def _moment(value: str, name: str, problems: list[str]) -> datetime | None:
    """A ``datetime-local`` input, read as UTC (the dashboard shows every time in UTC)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        problems.append(f"{name}: {value!r} is not a date and time such as 2026-11-27T09:30")
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01 with a positive offset is before the first representable moment
        problems.append(f"{name}: {value!r} is out of range")
        return None
