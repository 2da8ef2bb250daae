from __future__ import annotations

import pytest

from omnibot.domain.model import Channel, ChannelState, Contact
from omnibot.services.linking import Linking, MessengerUser
from tests.fakes import InMemoryContactRepository

OLENA_TG = MessengerUser(Channel.TELEGRAM, "42", "Olena", "Kovalenko", "uk")
OLENA_VIBER = MessengerUser(Channel.VIBER, "01234567890A=", "Olena", None, "uk")


@pytest.fixture
def contacts() -> InMemoryContactRepository:
    return InMemoryContactRepository()


@pytest.fixture
def linking(contacts: InMemoryContactRepository) -> Linking:
    return Linking(contacts, "UA")


def test_deep_link_start_links_the_account_to_the_order_and_asks_for_the_phone(
    linking: Linking, contacts: InMemoryContactRepository
) -> None:
    reply = linking.start(OLENA_TG, "ORD-1234")
    assert reply.request_phone
    assert "ORD-1234" in reply.text
    [linked] = contacts.find_by_order("ORD-1234")
    assert linked.telegram_chat_id == 42
    assert (linked.first_name, linked.language) == ("Olena", "uk")


def test_own_shared_contact_binds_the_phone(linking: Linking, contacts: InMemoryContactRepository) -> None:
    linking.start(OLENA_TG, "ORD-1")
    reply = linking.share_contact(OLENA_TG, "380501234567", is_own=True)
    assert reply.remove_keyboard
    found = contacts.find_by_phone("+380501234567")
    assert found is not None and found.telegram_chat_id == 42


def test_someone_elses_contact_card_binds_nothing(
    linking: Linking, contacts: InMemoryContactRepository
) -> None:
    linking.start(OLENA_TG, "ORD-1")
    reply = linking.share_contact(OLENA_TG, "+380671112233", is_own=False)
    assert reply.request_phone
    assert contacts.find_by_phone("+380671112233") is None


def test_unreadable_phone_asks_again(linking: Linking) -> None:
    assert linking.share_contact(OLENA_TG, "not a phone", is_own=True).request_phone


def test_same_phone_on_both_messengers_is_one_customer(
    linking: Linking, contacts: InMemoryContactRepository
) -> None:
    linking.start(OLENA_VIBER, "ORD-1")
    linking.share_contact(OLENA_VIBER, "380501234567", is_own=True)
    linking.start(OLENA_TG, "ORD-1")
    linking.share_contact(OLENA_TG, "+380 50 123 45 67", is_own=True)
    customer = contacts.find_by_phone("+380501234567")
    assert customer is not None
    assert (customer.telegram_chat_id, customer.viber_user_id) == (42, "01234567890A=")
    assert contacts.find_by_telegram_chat(42) == customer
    assert [c.id for c in contacts.find_by_order("ORD-1")] == [customer.id]


def test_block_and_start_again(linking: Linking, contacts: InMemoryContactRepository) -> None:
    linking.start(OLENA_TG, None)
    linking.blocked(OLENA_TG)
    blocked = contacts.find_by_telegram_chat(42)
    assert blocked is not None and blocked.telegram_state is ChannelState.BLOCKED
    linking.start(OLENA_TG, None)
    again = contacts.find_by_telegram_chat(42)
    assert again is not None and again.telegram_state is ChannelState.ACTIVE


def test_block_from_an_unknown_account_is_ignored(
    linking: Linking, contacts: InMemoryContactRepository
) -> None:
    linking.blocked(MessengerUser(Channel.VIBER, "unknown="))
    assert contacts.find_by_viber_user("unknown=") is None


def test_known_customer_starting_again_is_not_asked_for_the_phone(
    linking: Linking, contacts: InMemoryContactRepository
) -> None:
    contacts.add(Contact(phone="+380501234567", telegram_chat_id=42))
    reply = linking.start(OLENA_TG, "ORD-9")
    assert not reply.request_phone and "ORD-9" in reply.text
