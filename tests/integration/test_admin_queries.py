"""The dashboard's read models on SQLite and PostgreSQL: filters, pages, counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from omnibot.adapters.db.admin_queries import AdminQueries, NotificationFilter
from omnibot.adapters.db.repository import SqlContactRepository, SqlNotificationRepository
from omnibot.domain.model import (
    AttemptOutcome,
    Channel,
    ChannelState,
    Contact,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
)

START = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)


def add(engine: Engine, n: int, phone: str, status: NotificationStatus, channel: Channel | None = None,
        *, attempts: int = 0, request_id: str | None = None) -> Notification:
    at = START + timedelta(minutes=n)
    notification = Notification(
        id=f"00000000-0000-0000-0000-{n:012d}", phone=phone, order_id=f"ORD-{n}", items=["x"], status=status,
        channel=channel, request_id=request_id, created_at=at, updated_at=at,
        attempts=[DeliveryAttempt(channel or Channel.TELEGRAM,
                                  AttemptOutcome.SENT if status is NotificationStatus.SENT
                                  else AttemptOutcome.PERMANENT_FAILURE, created_at=at) for _ in range(attempts)])
    SqlNotificationRepository(engine).add(notification)
    return notification


def ids(engine: Engine, where: NotificationFilter, page: int = 1, size: int = 50) -> list[str]:
    return [row.id[-3:] for row in AdminQueries(engine).notifications(where, page, size).items]


def test_notifications_filter_by_status_channel_time_and_phone(engine: Engine) -> None:
    add(engine, 1, "+380501111111", NotificationStatus.SENT, Channel.TELEGRAM, attempts=1)
    add(engine, 2, "+380502222222", NotificationStatus.FAILED, attempts=2)
    add(engine, 3, "+380501111111", NotificationStatus.SENT, Channel.VIBER, attempts=1, request_id="resend:x")

    assert ids(engine, NotificationFilter()) == ["003", "002", "001"]  # newest first
    assert ids(engine, NotificationFilter(status=NotificationStatus.SENT)) == ["003", "001"]
    assert ids(engine, NotificationFilter(channel=Channel.VIBER)) == ["003"]
    assert ids(engine, NotificationFilter(since=START + timedelta(minutes=2))) == ["003", "002"]
    assert ids(engine, NotificationFilter(until=START + timedelta(minutes=2))) == ["001"]
    assert ids(engine, NotificationFilter(phone="+380501111111")) == ["003", "001"]
    assert ids(engine, NotificationFilter(phone_digits="2222")) == ["002"]
    assert ids(engine, NotificationFilter(phone_digits="%")) == ["003", "002", "001"]  # no wildcard smuggling
    assert ids(engine, NotificationFilter(request_id="resend:x")) == ["003"]
    row = AdminQueries(engine).notifications(NotificationFilter(status=NotificationStatus.FAILED)).items[0]
    assert (row.attempts, row.phone, row.order_id) == (2, "+380502222222", "ORD-2")


def test_pages_know_whether_another_follows_without_counting(engine: Engine) -> None:
    for n in range(1, 6):
        add(engine, n, "+380501111111", NotificationStatus.QUEUED)
    queries = AdminQueries(engine)
    first, last = queries.notifications(NotificationFilter(), 1, 2), queries.notifications(NotificationFilter(), 3, 2)
    assert [r.id[-1] for r in first.items] == ["5", "4"] and first.has_next and not first.has_previous
    assert [r.id[-1] for r in last.items] == ["1"] and not last.has_next and last.has_previous


def test_sent_messages_per_channel_since_a_moment_and_counts_by_status(engine: Engine) -> None:
    add(engine, 1, "+380501111111", NotificationStatus.SENT, Channel.VIBER, attempts=1)  # 23:01 on the 31st
    add(engine, 90, "+380501111111", NotificationStatus.SENT, Channel.VIBER, attempts=1)  # 00:30 on the 1st
    add(engine, 91, "+380501111111", NotificationStatus.SENT, Channel.TELEGRAM, attempts=1)
    add(engine, 92, "+380502222222", NotificationStatus.FAILED, attempts=1)
    queries = AdminQueries(engine)
    month = datetime(2026, 4, 1, tzinfo=UTC)
    assert queries.sent_by_channel(month) == {Channel.TELEGRAM: 1, Channel.VIBER: 1}
    assert queries.sent_by_channel(START) == {Channel.TELEGRAM: 1, Channel.VIBER: 2}
    assert queries.failed_since(month) == 1
    counts = queries.status_counts()
    assert counts[NotificationStatus.SENT] == 3 and counts[NotificationStatus.FAILED] == 1
    assert counts[NotificationStatus.QUEUED] == 0


def test_contacts_by_digits_with_their_channels(engine: Engine) -> None:
    contacts = SqlContactRepository(engine)
    contacts.add(Contact(phone="+380501111111", first_name="Olena", telegram_chat_id=42,
                         telegram_state=ChannelState.BLOCKED))
    contacts.add(Contact(phone="+380502222222", viber_user_id="v=="))
    contacts.add(Contact(telegram_chat_id=43))  # started from a link, no phone yet
    queries = AdminQueries(engine)
    found = queries.contacts("501111").items
    assert [(c.phone, c.first_name, c.telegram, c.viber) for c in found] == [
        ("+380501111111", "Olena", ChannelState.BLOCKED, None)]
    assert len(queries.contacts().items) == 3
    assert queries.contact(found[0].id) == found[0] and queries.contact(999) is None
