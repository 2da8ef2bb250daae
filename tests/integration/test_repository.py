"""One contract for the repositories, run in memory, on SQLite and on PostgreSQL.

The in-memory fakes stand in for the database in every unit test; this suite is what makes that
safe: whatever passes here behaves the same on all three.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from omnibot.adapters.db.repository import Conflict, ContactConflict, NotFound
from omnibot.domain.model import (
    AttemptOutcome,
    Channel,
    ChannelState,
    Contact,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    OrderLink,
)
from tests.conftest import Repositories

PHONE = "+380501234567"
OTHER_PHONE = "+380671112233"
KYIV = timezone(timedelta(hours=2))


def olena(**fields: object) -> Contact:
    values: dict[str, object] = {"phone": PHONE, "first_name": "Olena", "last_name": "Kovalenko",
                                 "language": "uk", "telegram_chat_id": 42}
    values.update(fields)
    return Contact(**values)  # type: ignore[arg-type]


def link(repos: Repositories, order_id: str, contact: Contact, channel: Channel) -> None:
    assert contact.id is not None
    repos.contacts.link_order(OrderLink(order_id, contact.id, channel))


# --- contacts ---------------------------------------------------------------------------------


def test_an_added_contact_gets_an_id_and_the_clocks_time_and_reads_back_equal(
    repositories: Repositories,
) -> None:
    contact = repositories.contacts.add(olena(viber_user_id="v=", viber_state=ChannelState.BLOCKED))
    assert contact.id is not None
    assert contact.created_at == contact.updated_at == repositories.clock.now()
    assert repositories.contacts.get(contact.id) == contact


def test_contacts_are_found_by_phone_telegram_chat_and_viber_user(repositories: Repositories) -> None:
    contact = repositories.contacts.add(olena(viber_user_id="01234567890A="))
    repositories.contacts.add(Contact(phone=OTHER_PHONE, telegram_chat_id=7, viber_user_id="other="))
    assert repositories.contacts.find_by_phone(PHONE) == contact
    assert repositories.contacts.find_by_telegram_chat(42) == contact
    assert repositories.contacts.find_by_viber_user("01234567890A=") == contact


def test_many_contacts_are_found_at_once_by_id_or_phone(repositories: Repositories) -> None:
    by_phone = repositories.contacts.add(olena())
    by_id = repositories.contacts.add(Contact(viber_user_id="v="))
    repositories.contacts.add(Contact(phone=OTHER_PHONE, telegram_chat_id=7))  # asked for by neither
    assert by_id.id is not None
    found = repositories.contacts.find_many({by_id.id, 999}, {PHONE, "+380000000000"})
    assert sorted(found, key=lambda c: c.id or 0) == [by_phone, by_id]
    assert repositories.contacts.find_many(set(), set()) == []


def test_lookups_of_unknown_contacts_find_nothing(repositories: Repositories) -> None:
    repositories.contacts.add(Contact(viber_user_id="v="))  # no phone, no Telegram chat
    assert repositories.contacts.get(999) is None
    assert repositories.contacts.find_by_phone(PHONE) is None
    assert repositories.contacts.find_by_telegram_chat(42) is None
    assert repositories.contacts.find_by_viber_user("unknown=") is None
    assert repositories.contacts.find_by_order("ORD-404") == []
    assert repositories.contacts.find_by_phone(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "value"), [
    ("phone", PHONE), ("telegram_chat_id", 42), ("viber_user_id", "v=")])
def test_a_phone_or_account_another_contact_has_cannot_be_added(
    repositories: Repositories, field: str, value: object
) -> None:
    repositories.contacts.add(Contact(**{field: value}))  # type: ignore[arg-type]
    with pytest.raises(ContactConflict) as raised:
        repositories.contacts.add(Contact(first_name="Taras", **{field: value}))  # type: ignore[arg-type]
    assert raised.value.field == field
    assert str(value) not in str(raised.value)  # phones are personal data: never in a message


def test_update_saves_every_field_and_stamps_the_time(repositories: Repositories) -> None:
    contact = repositories.contacts.add(Contact(telegram_chat_id=42))
    created_at = contact.created_at
    later = repositories.clock.advance(60)
    contact.phone, contact.first_name, contact.last_name, contact.language = PHONE, "O", "K", "uk"
    contact.telegram_state = ChannelState.UNREACHABLE
    contact.viber_user_id, contact.viber_state = "v=", ChannelState.BLOCKED
    repositories.contacts.update(contact)
    assert contact.updated_at == later
    assert contact.id is not None
    stored = repositories.contacts.get(contact.id)
    assert stored == contact
    assert stored is not None and stored.created_at == created_at


def test_update_to_another_contacts_phone_is_a_conflict_and_changes_nothing(
    repositories: Repositories,
) -> None:
    repositories.contacts.add(Contact(phone=PHONE))
    contact = repositories.contacts.add(Contact(telegram_chat_id=42, first_name="Olena"))
    contact.phone, contact.first_name = PHONE, "Changed"
    with pytest.raises(ContactConflict):
        repositories.contacts.update(contact)
    assert contact.id is not None
    stored = repositories.contacts.get(contact.id)
    assert stored is not None and (stored.phone, stored.first_name) == (None, "Olena")


def test_update_of_a_contact_that_is_gone_is_not_found(repositories: Repositories) -> None:
    with pytest.raises(NotFound):
        repositories.contacts.update(Contact(id=999, phone=PHONE))


def test_merge_deletes_the_duplicate_frees_its_accounts_for_keep_and_moves_its_links(
    repositories: Repositories,
) -> None:
    keep = repositories.contacts.add(olena())
    duplicate = repositories.contacts.add(Contact(viber_user_id="v=", first_name="Олена"))
    link(repositories, "ORD-1", duplicate, Channel.VIBER)
    link(repositories, "ORD-2", duplicate, Channel.VIBER)
    later = repositories.clock.advance(60)
    keep.absorb(duplicate)
    repositories.contacts.merge(keep, duplicate)
    assert duplicate.id is not None and keep.id is not None
    assert repositories.contacts.get(duplicate.id) is None
    assert repositories.contacts.find_by_viber_user("v=") == keep
    assert keep.updated_at == later and keep.first_name == "Olena"
    assert [c.id for c in repositories.contacts.find_by_order("ORD-1")] == [keep.id]
    assert [c.id for c in repositories.contacts.find_by_order("ORD-2")] == [keep.id]


def test_merge_keeps_one_link_per_order_and_channel_at_the_latest_time(
    repositories: Repositories,
) -> None:
    keep = repositories.contacts.add(Contact(phone=PHONE, telegram_chat_id=1))
    duplicate = repositories.contacts.add(Contact(telegram_chat_id=2))
    other = repositories.contacts.add(Contact(viber_user_id="other="))
    link(repositories, "ORD-1", keep, Channel.TELEGRAM)
    repositories.clock.advance(1)
    link(repositories, "ORD-1", other, Channel.VIBER)
    repositories.clock.advance(1)
    link(repositories, "ORD-1", duplicate, Channel.TELEGRAM)  # the newest link of the order
    keep.absorb(duplicate)
    repositories.contacts.merge(keep, duplicate)
    assert [c.id for c in repositories.contacts.find_by_order("ORD-1")] == [keep.id, other.id]


def test_a_merge_that_conflicts_changes_nothing(repositories: Repositories) -> None:
    repositories.contacts.add(Contact(phone=OTHER_PHONE))
    keep = repositories.contacts.add(Contact(telegram_chat_id=42))
    duplicate = repositories.contacts.add(Contact(viber_user_id="v="))
    link(repositories, "ORD-1", duplicate, Channel.VIBER)
    keep.absorb(duplicate)
    keep.phone = OTHER_PHONE
    with pytest.raises(ContactConflict):
        repositories.contacts.merge(keep, duplicate)
    assert repositories.contacts.find_by_viber_user("v=") is not None
    assert [c.id for c in repositories.contacts.find_by_order("ORD-1")] == [duplicate.id]
    assert keep.id is not None
    stored_keep = repositories.contacts.get(keep.id)
    assert stored_keep is not None and stored_keep.viber_user_id is None


def test_a_contact_cannot_be_merged_into_itself(repositories: Repositories) -> None:
    contact = repositories.contacts.add(Contact(phone=PHONE))
    with pytest.raises(ValueError):
        repositories.contacts.merge(contact, contact)


def test_order_links_list_the_most_recently_linked_contact_first(repositories: Repositories) -> None:
    first = repositories.contacts.add(Contact(telegram_chat_id=1))
    second = repositories.contacts.add(Contact(viber_user_id="v="))
    link(repositories, "ORD-1", first, Channel.TELEGRAM)
    repositories.clock.advance(1)
    link(repositories, "ORD-1", second, Channel.VIBER)
    link(repositories, "ORD-2", first, Channel.TELEGRAM)
    assert [c.id for c in repositories.contacts.find_by_order("ORD-1")] == [second.id, first.id]
    repositories.clock.advance(1)
    link(repositories, "ORD-1", first, Channel.TELEGRAM)  # opened again: idempotent, but recent
    assert [c.id for c in repositories.contacts.find_by_order("ORD-1")] == [first.id, second.id]
    assert repositories.contacts.find_by_order("ORD-1")[0] == first


def test_a_contact_linked_through_both_messengers_is_listed_once(repositories: Repositories) -> None:
    contact = repositories.contacts.add(Contact(telegram_chat_id=1, viber_user_id="v="))
    link(repositories, "ORD-1", contact, Channel.TELEGRAM)
    repositories.clock.advance(1)
    link(repositories, "ORD-1", contact, Channel.VIBER)
    assert repositories.contacts.find_by_order("ORD-1") == [contact]


def test_a_link_to_an_unknown_contact_is_not_found(repositories: Repositories) -> None:
    with pytest.raises(NotFound):
        repositories.contacts.link_order(OrderLink("ORD-1", 999, Channel.TELEGRAM))


def test_times_in_any_zone_come_back_as_the_same_instant_in_utc(repositories: Repositories) -> None:
    created = datetime(2025, 3, 30, 3, 30, 15, 123456, tzinfo=KYIV)
    contact = repositories.contacts.add(Contact(phone=PHONE, created_at=created))
    assert contact.id is not None
    stored = repositories.contacts.get(contact.id)
    assert stored is not None and stored.created_at is not None and stored.updated_at is not None
    assert stored.created_at == created
    assert stored.created_at.tzinfo is UTC and stored.updated_at.tzinfo is UTC
    assert stored.created_at.hour == 1 and stored.created_at.microsecond == 123456


def test_naive_times_are_refused(repositories: Repositories) -> None:
    with pytest.raises(ValueError):
        repositories.contacts.add(Contact(phone=PHONE, created_at=datetime(2025, 1, 1)))
    assert repositories.contacts.find_by_phone(PHONE) is None


# --- notifications ----------------------------------------------------------------------------


def notification(**fields: object) -> Notification:
    values: dict[str, object] = {"id": "2f1c9a4e-5b7d-4c3e-9a1f-0d8e7b6a5c4d", "phone": PHONE,
                                 "order_id": "ORD-1", "items": ["Laptop", "Чохол"]}
    values.update(fields)
    return Notification(**values)  # type: ignore[arg-type]


def test_an_added_notification_reads_back_equal_with_the_clocks_time(
    repositories: Repositories,
) -> None:
    added = notification()
    repositories.notifications.add(added)
    assert added.created_at == added.updated_at == repositories.clock.now()
    stored = repositories.notifications.get(added.id)
    assert stored == added
    assert stored is not None and stored.status is NotificationStatus.QUEUED and stored.channel is None


def test_update_saves_what_became_of_the_notification(repositories: Repositories) -> None:
    contact = repositories.contacts.add(olena())
    added = notification()
    repositories.notifications.add(added)
    added.status, added.channel, added.result = NotificationStatus.SENT, Channel.VIBER, "Sent via Viber"
    added.contact_id = contact.id
    added.updated_at = repositories.clock.advance(5)
    repositories.notifications.update(added)
    stored = repositories.notifications.get(added.id)
    assert stored == added
    assert stored is not None and stored.channel is Channel.VIBER


def test_attempts_come_back_in_the_order_they_were_made(repositories: Repositories) -> None:
    repositories.notifications.add(notification())
    made = [
        DeliveryAttempt(Channel.TELEGRAM, AttemptOutcome.SKIPPED, error="telegram account is blocked"),
        DeliveryAttempt(Channel.VIBER, AttemptOutcome.TRANSIENT_FAILURE, error="viber: HTTP 502"),
        DeliveryAttempt(Channel.VIBER, AttemptOutcome.SENT, provider_message_id="5741311803571721087"),
    ]
    for attempt in made[:2]:  # in the same instant: insertion order decides
        repositories.notifications.add_attempt(notification().id, attempt)
    repositories.clock.advance(1)
    repositories.notifications.add_attempt(notification().id, made[2])
    stored = repositories.notifications.get(notification().id)
    assert stored is not None and stored.attempts == made
    assert [a.created_at for a in made] == [
        repositories.clock.now() - timedelta(seconds=1)] * 2 + [repositories.clock.now()]


def test_attempts_of_a_new_notification_are_stored_with_it(repositories: Repositories) -> None:
    attempt = DeliveryAttempt(Channel.TELEGRAM, AttemptOutcome.PERMANENT_FAILURE, error="403")
    repositories.notifications.add(notification(attempts=[attempt]))
    stored = repositories.notifications.get(notification().id)
    assert stored is not None and stored.attempts == [attempt]


def test_unknown_notifications_are_not_found(repositories: Repositories) -> None:
    assert repositories.notifications.get("no-such-id") is None
    with pytest.raises(NotFound):
        repositories.notifications.update(notification(id="no-such-id"))
    with pytest.raises(NotFound):
        repositories.notifications.add_attempt(
            "no-such-id", DeliveryAttempt(Channel.VIBER, AttemptOutcome.SENT))


def test_a_notification_id_cannot_be_used_twice(repositories: Repositories) -> None:
    repositories.notifications.add(notification())
    with pytest.raises(Conflict):
        repositories.notifications.add(notification(phone=OTHER_PHONE))


def test_a_notification_for_an_unknown_contact_is_not_found(repositories: Repositories) -> None:
    with pytest.raises(NotFound):
        repositories.notifications.add(notification(contact_id=999))


def test_notifications_of_a_merged_away_contact_keep_no_contact(repositories: Repositories) -> None:
    keep = repositories.contacts.add(Contact(phone=PHONE))
    duplicate = repositories.contacts.add(Contact(viber_user_id="v="))
    repositories.notifications.add(notification(contact_id=duplicate.id))
    keep.absorb(duplicate)
    repositories.contacts.merge(keep, duplicate)
    stored = repositories.notifications.get(notification().id)
    assert stored is not None and stored.contact_id is None
