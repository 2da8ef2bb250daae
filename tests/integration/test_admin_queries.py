"""The dashboard's read models in memory, on SQLite and on PostgreSQL: filters, pages, counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from omnibot.adapters.db.admin_queries import SqlDashboardQueries
from omnibot.adapters.db.repository import SqlContactRepository
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
)
from omnibot.ports import ContactRepository
from omnibot.ports.dashboard import BilledSends, DashboardQueries, NotificationFilter
from tests.conftest import SQL_BACKENDS
from tests.fake_dashboard import InMemoryDashboardQueries
from tests.fakes import InMemoryContactRepository, InMemoryNotificationRepository, ManualClock
from tests.integration.billing import STARS, ViberSend, add_viber_sends
from tests.sql_notifications import NotificationRepository, SqlNotificationRepository

START = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)


@dataclass
class Store:
    """The dashboard's queries over one store, and the repositories that seed it."""

    notifications: NotificationRepository
    contacts: ContactRepository
    queries: DashboardQueries
    clock: ManualClock


@pytest.fixture(params=["memory", *SQL_BACKENDS])
def store(request: pytest.FixtureRequest) -> Store:
    """The same read models in memory, on SQLite and on PostgreSQL, seeded only through the repositories."""
    clock = ManualClock(START)
    if request.param == "memory":
        contacts = InMemoryContactRepository(clock.now)
        notifications = InMemoryNotificationRepository(clock.now, contacts)
        return Store(notifications, contacts, InMemoryDashboardQueries(notifications, contacts), clock)
    engine: Engine = request.getfixturevalue(
        "migrated_postgres_engine" if request.param == "postgres" else "sqlite_engine")
    return Store(SqlNotificationRepository(engine, clock.now), SqlContactRepository(engine, clock.now),
                 SqlDashboardQueries(engine), clock)


def add(store: Store, n: int, phone: str, status: NotificationStatus, channel: Channel | None = None,
        *, attempts: int = 0, request_id: str | None = None) -> Notification:
    at = START + timedelta(minutes=n)
    notification = Notification(
        id=f"00000000-0000-0000-0000-{n:012d}", phone=phone, order_id=f"ORD-{n}", items=["x"], status=status,
        channel=channel, request_id=request_id, created_at=at, updated_at=at,
        attempts=[DeliveryAttempt(channel or Channel.TELEGRAM,
                                  AttemptOutcome.SENT if status is NotificationStatus.SENT
                                  else AttemptOutcome.PERMANENT_FAILURE, created_at=at) for _ in range(attempts)])
    store.notifications.add(notification)
    return notification


def ids(store: Store, where: NotificationFilter, page: int = 1, size: int = 50) -> list[str]:
    return [row.id[-3:] for row in store.queries.notifications(where, page, size).items]


def test_notifications_filter_by_status_channel_time_and_phone(store: Store) -> None:
    add(store, 1, "+380501111111", NotificationStatus.SENT, Channel.TELEGRAM, attempts=1)
    add(store, 2, "+380502222222", NotificationStatus.FAILED, attempts=2)
    add(store, 3, "+380501111111", NotificationStatus.SENT, Channel.VIBER, attempts=1, request_id="resend:x")

    assert ids(store, NotificationFilter()) == ["003", "002", "001"]  # newest first
    assert ids(store, NotificationFilter(status=NotificationStatus.SENT)) == ["003", "001"]
    assert ids(store, NotificationFilter(channel=Channel.VIBER)) == ["003"]
    assert ids(store, NotificationFilter(since=START + timedelta(minutes=2))) == ["003", "002"]
    assert ids(store, NotificationFilter(until=START + timedelta(minutes=2))) == ["001"]
    assert ids(store, NotificationFilter(phone="+380501111111")) == ["003", "001"]
    assert ids(store, NotificationFilter(phone_digits="2222")) == ["002"]
    assert ids(store, NotificationFilter(phone_digits="%")) == ["003", "002", "001"]  # no wildcard smuggling
    assert ids(store, NotificationFilter(request_id="resend:x")) == ["003"]
    row = store.queries.notifications(NotificationFilter(status=NotificationStatus.FAILED)).items[0]
    assert (row.attempts, row.phone, row.order_id) == (2, "+380502222222", "ORD-2")


def test_notifications_of_one_instant_by_id_and_of_a_contact_and_without_a_phone(store: Store) -> None:
    olena = store.contacts.add(Contact(phone="+380501111111"))
    for n in (7, 9, 8):  # one instant: the id decides
        store.notifications.add(Notification(
            id=f"00000000-0000-0000-0006-{n:012d}", phone="+380501111111", order_id=None, items=["x"],
            contact_id=olena.id if n != 8 else None, created_at=START, updated_at=START + timedelta(seconds=n)))
    store.notifications.add(Notification(  # anonymized: no number left to match digits
        id="00000000-0000-0000-0006-000000000010", phone=None, order_id=None, items=["x"],
        created_at=START, updated_at=START))

    assert ids(store, NotificationFilter()) == ["010", "009", "008", "007"]
    assert ids(store, NotificationFilter(contact_id=olena.id)) == ["009", "007"]
    assert ids(store, NotificationFilter(phone_digits="0501")) == ["009", "008", "007"]
    assert ids(store, NotificationFilter(phone_digits="_")) == ["009", "008", "007"]
    assert ids(store, NotificationFilter(phone_digits="38 050-111")) == ["009", "008", "007"]  # the digits typed
    assert ids(store, NotificationFilter(phone_digits="0502")) == []
    row = store.queries.notifications(NotificationFilter(), 2, 3).items[0]
    assert (row.id[-3:], row.updated_at, row.attempts, row.event, row.channel) == (
        "007", START + timedelta(seconds=7), 0, "order_ready", None)


def test_pages_know_whether_another_follows_without_counting(store: Store) -> None:
    for n in range(1, 6):
        add(store, n, "+380501111111", NotificationStatus.QUEUED)
    queries = store.queries
    first, last = queries.notifications(NotificationFilter(), 1, 2), queries.notifications(NotificationFilter(), 3, 2)
    assert [r.id[-1] for r in first.items] == ["5", "4"] and first.has_next and not first.has_previous
    assert [r.id[-1] for r in last.items] == ["1"] and not last.has_next and last.has_previous


def test_sent_messages_per_channel_since_a_moment_and_counts_by_status(store: Store) -> None:
    add(store, 1, "+380501111111", NotificationStatus.SENT, Channel.VIBER, attempts=1)  # 23:01 on the 31st
    add(store, 90, "+380501111111", NotificationStatus.SENT, Channel.VIBER, attempts=1)  # 00:30 on the 1st
    add(store, 91, "+380501111111", NotificationStatus.SENT, Channel.TELEGRAM, attempts=1)
    add(store, 92, "+380502222222", NotificationStatus.FAILED, attempts=1)
    queries = store.queries
    month = datetime(2026, 4, 1, tzinfo=UTC)
    assert queries.sent_by_channel(month) == {Channel.TELEGRAM: 1, Channel.VIBER: 1}
    assert queries.sent_by_channel(START) == {Channel.TELEGRAM: 1, Channel.VIBER: 2}
    assert queries.failed_since(month) == 1
    counts = queries.status_counts()
    assert counts[NotificationStatus.SENT] == 3 and counts[NotificationStatus.FAILED] == 1
    assert counts[NotificationStatus.QUEUED] == 0


def test_billed_sends_of_a_channel_and_currency_since_a_moment(store: Store) -> None:
    stars = Price(Decimal("0.1"), "XTR")

    def sent(n: int, at: datetime, channel: Channel, prices: list[Price | None]) -> None:
        store.notifications.add(Notification(
            id=f"00000000-0000-0000-0003-{n:012d}", phone="+380501111111", order_id=f"ORD-{n}", items=["x"],
            status=NotificationStatus.SENT, channel=channel, created_at=at, updated_at=at,
            attempts=[DeliveryAttempt(channel, AttemptOutcome.SENT, created_at=at, price=price) for price in prices]))

    month = datetime(2026, 4, 1, tzinfo=UTC)
    sent(1, month - timedelta(minutes=1), Channel.TELEGRAM, [stars])  # last month
    sent(2, month, Channel.TELEGRAM, [stars, None, stars])  # free ones beside billed ones
    sent(3, month + timedelta(days=3), Channel.TELEGRAM, [stars])
    sent(4, month + timedelta(days=4), Channel.TELEGRAM, [Price(Decimal("2.5"), "EUR")])  # another currency
    sent(5, month + timedelta(days=5), Channel.VIBER, [Price(Decimal("0.1"), "XTR")])  # another channel
    queries = store.queries

    assert queries.billed_since(Channel.TELEGRAM, "XTR", month) == BilledSends(3, Decimal("0.3"))
    assert queries.billed_since(Channel.TELEGRAM, "XTR", month - timedelta(days=1)) == BilledSends(4, Decimal("0.4"))
    assert queries.billed_since(Channel.TELEGRAM, "EUR", month) == BilledSends(1, Decimal("2.5"))
    assert queries.billed_since(Channel.TELEGRAM, "XTR", month + timedelta(days=30)) == BilledSends(0, Decimal(0))


def test_contacts_by_digits_with_their_channels(store: Store) -> None:
    contacts = store.contacts
    contacts.add(Contact(phone="+380501111111", first_name="Olena", telegram_chat_id=42,
                         telegram_state=ChannelState.BLOCKED))
    contacts.add(Contact(phone="+380502222222", viber_user_id="v=="))
    contacts.add(Contact(telegram_chat_id=43))  # started from a link, no phone yet
    queries = store.queries
    found = queries.contacts("501111").items
    assert [(c.phone, c.first_name, c.telegram, c.viber) for c in found] == [
        ("+380501111111", "Olena", ChannelState.BLOCKED, None)]
    assert len(queries.contacts().items) == 3
    assert queries.contact(found[0].id) == found[0] and queries.contact(999) is None


def test_contacts_newest_first_by_id_within_an_instant_in_pages(store: Store) -> None:
    # The clock stands still: every contact is created in the same instant.
    added = [store.contacts.add(Contact(phone=f"+38050{n}000000", viber_user_id=f"v{n}", phone_verified=n == 2))
             for n in range(1, 5)]
    linked_only = store.contacts.add(Contact(telegram_chat_id=7))  # no phone yet
    store.clock.advance(60)
    newest = store.contacts.add(Contact(phone="+380990000000", language="uk"))

    first, second = store.queries.contacts(page=1, size=4), store.queries.contacts(page=2, size=4)
    assert [c.id for c in first.items] == [newest.id, linked_only.id, added[3].id, added[2].id]
    assert first.has_next and not second.has_next and second.has_previous
    assert [c.id for c in second.items] == [added[1].id, added[0].id]
    assert [c.phone for c in store.queries.contacts("%").items] == [  # no wildcard smuggling; a phone is needed
        "+380990000000", "+380504000000", "+380503000000", "+380502000000", "+380501000000"]
    assert added[1].id is not None
    verified = store.queries.contact(added[1].id)
    assert verified is not None and verified.phone_verified and verified.viber is ChannelState.ACTIVE
    assert verified.telegram is None and verified.created_at == START
    assert store.queries.contacts("000000", page=2, size=2).items[0].phone == "+380503000000"


def delivered(store: Store, n: int, accepted: datetime, channel: Channel, took_seconds: float,
              *, attempts_before: int = 0) -> None:
    """A notification accepted at ``accepted`` that ``channel`` took ``took_seconds`` later, after failed tries."""
    sent_at = accepted + timedelta(seconds=took_seconds)
    tries = [DeliveryAttempt(channel, AttemptOutcome.TRANSIENT_FAILURE, created_at=accepted)] * attempts_before
    store.notifications.add(Notification(
        id=f"00000000-0000-0000-0001-{n:012d}", phone="+380501111111", order_id=f"ORD-{n}", items=["x"],
        status=NotificationStatus.SENT, channel=channel, created_at=accepted, updated_at=sent_at,
        attempts=[*tries, DeliveryAttempt(channel, AttemptOutcome.SENT, created_at=sent_at)]))


def failed(store: Store, n: int, accepted: datetime) -> None:
    store.notifications.add(Notification(
        id=f"00000000-0000-0000-0002-{n:012d}", phone="+380502222222", order_id=f"ORD-{n}", items=["x"],
        status=NotificationStatus.FAILED, created_at=accepted, updated_at=accepted + timedelta(hours=2),
        attempts=[DeliveryAttempt(Channel.TELEGRAM, AttemptOutcome.PERMANENT_FAILURE, created_at=accepted)]))


def test_outcomes_per_hour_count_sent_by_channel_and_failed_with_empty_hours_as_zero(store: Store) -> None:
    first = datetime(2026, 4, 1, 22, 0, tzinfo=UTC)
    delivered(store, 1, first - timedelta(seconds=1), Channel.TELEGRAM, 1.5)  # sent at 22:00:00.5: the first hour
    delivered(store, 2, first + timedelta(minutes=59, seconds=59), Channel.TELEGRAM, 2)  # sent at 23:00:01
    delivered(store, 3, first + timedelta(hours=1, minutes=30), Channel.VIBER, 5, attempts_before=2)
    delivered(store, 4, first + timedelta(hours=1, minutes=40), Channel.TELEGRAM, 1)
    failed(store, 5, first + timedelta(hours=1, minutes=5))  # by the hour it was accepted, not when it failed
    failed(store, 6, first + timedelta(hours=3, minutes=59))
    delivered(store, 7, first - timedelta(hours=1), Channel.VIBER, 1)  # before the window
    delivered(store, 8, first + timedelta(hours=4), Channel.VIBER, 1)  # after it
    failed(store, 9, first + timedelta(hours=4))

    hours = store.queries.outcomes_per_hour(first, 4)

    assert [h.hour for h in hours] == [first + timedelta(hours=n) for n in range(4)]
    assert [(h.sent[Channel.TELEGRAM], h.sent[Channel.VIBER], h.failed) for h in hours] == [
        (1, 0, 0), (2, 1, 1), (0, 0, 0), (0, 0, 1)]


def test_hours_and_days_start_in_utc_whatever_zone_the_window_is_asked_in(store: Store) -> None:
    kyiv_summer, india = timezone(timedelta(hours=3)), timezone(timedelta(hours=5, minutes=30))
    delivered(store, 1, datetime(2026, 4, 1, 21, 50, tzinfo=UTC), Channel.VIBER, 20 * 60)  # sent 22:10 UTC

    hours = store.queries.outcomes_per_hour(datetime(2026, 4, 2, 3, 45, tzinfo=india), 2)  # 22:15 UTC
    assert [h.hour for h in hours] == [datetime(2026, 4, 1, 22, tzinfo=UTC), datetime(2026, 4, 1, 23, tzinfo=UTC)]
    assert [h.sent[Channel.VIBER] for h in hours] == [1, 0]
    took = store.queries.time_to_deliver_per_hour(datetime(2026, 4, 2, 1, 30, tzinfo=kyiv_summer), 1)
    assert (took[0].hour, took[0].deliveries) == (datetime(2026, 4, 1, 22, tzinfo=UTC), 1)
    assert took[0].p50 == pytest.approx(1200, abs=0.01)
    days = store.queries.viber_per_day(datetime(2026, 4, 2, 0, 30, tzinfo=kyiv_summer), 2)  # 1 April in UTC
    assert [d.day for d in days] == [datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC)]
    assert [d.sent[None] for d in days] == [1, 0]


def test_time_to_deliver_per_hour_is_nearest_rank_p50_and_p95_of_the_hours_deliveries(store: Store) -> None:
    first = datetime(2026, 4, 1, 22, 0, tzinfo=UTC)
    for n, seconds in enumerate([3, 1, 20, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19], start=1):
        delivered(store, n, first + timedelta(minutes=n), Channel.TELEGRAM, seconds)  # 20 sent between 22:01 and 22:20
    delivered(store, 30, first + timedelta(hours=2, minutes=10), Channel.VIBER, 90.25, attempts_before=1)
    failed(store, 31, first + timedelta(hours=1))  # never delivered: no time to deliver

    hours = store.queries.time_to_deliver_per_hour(first, 3)

    assert [h.hour for h in hours] == [first + timedelta(hours=n) for n in range(3)]
    busy, quiet, single = hours
    assert busy.deliveries == 20 and busy.p50 == pytest.approx(10, abs=0.01)  # rank 10 of 20
    assert busy.p95 == pytest.approx(19, abs=0.01)  # rank 19 of 20: the slowest (20 s) is above p95
    assert (quiet.deliveries, quiet.p50, quiet.p95) == (0, None, None)
    assert single.deliveries == 1
    assert single.p50 == pytest.approx(90.25, abs=0.01) and single.p95 == pytest.approx(90.25, abs=0.01)


def test_viber_per_day_counts_each_utc_days_sent_messages_by_billing_and_sums_their_price(store: Store) -> None:
    first = datetime(2026, 4, 1, tzinfo=UTC)
    eur, usd = Price(Decimal("0.05"), "EUR"), Price(Decimal("0.07"), "USD")
    add_viber_sends(store.notifications, [
        ViberSend(first - timedelta(seconds=1), Billing.BILLABLE, eur),  # last month
        ViberSend(first, Billing.BILLABLE, eur),
        ViberSend(first + timedelta(hours=10), Billing.FREE_SESSION),
        ViberSend(first + timedelta(days=1) - timedelta(seconds=1), Billing.FREE_QUOTA),  # still the 1st in UTC
        ViberSend(first + timedelta(days=2, hours=9), Billing.BILLABLE, eur),
        ViberSend(first + timedelta(days=2, hours=10), Billing.BILLABLE, eur),
        ViberSend(first + timedelta(days=2, hours=11), Billing.BILLABLE, usd),  # the price changed currency
        ViberSend(first + timedelta(days=2, hours=12), None),  # sent before billing was recorded
        ViberSend(first + timedelta(days=2, hours=13), Billing.BILLABLE, eur, AttemptOutcome.TRANSIENT_FAILURE),
        ViberSend(first + timedelta(days=30), Billing.BILLABLE, eur),  # 1 May: after the window
    ])
    delivered(store, 1, first + timedelta(days=1), Channel.TELEGRAM, 1)  # another channel
    store.notifications.add(Notification(
        id="00000000-0000-0000-0004-000000000001", phone="+380501111111", order_id=None, items=["x"],
        status=NotificationStatus.SENT, channel=Channel.TELEGRAM, created_at=first, updated_at=first,
        attempts=[DeliveryAttempt(Channel.TELEGRAM, AttemptOutcome.SENT, created_at=first, price=STARS)]))

    days = store.queries.viber_per_day(first + timedelta(hours=15), 30)  # any moment of the first day

    assert [d.day for d in days] == [first + timedelta(days=n) for n in range(30)]
    first_day, second_day, third_day = days[:3]
    assert first_day.sent == {Billing.FREE_SESSION: 1, Billing.FREE_QUOTA: 1, Billing.BILLABLE: 1, None: 0}
    assert (first_day.billable, first_day.free, first_day.spent) == (1, 2, {"EUR": Decimal("0.05")})
    assert sum(second_day.sent.values()) == 0 and second_day.spent == {}
    assert (third_day.billable, third_day.free, third_day.sent[None]) == (3, 0, 1)
    assert third_day.spent == {"EUR": Decimal("0.1"), "USD": Decimal("0.07")}
    assert all(sum(d.sent.values()) == 0 and not d.spent for d in days[3:])
