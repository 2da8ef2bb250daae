from __future__ import annotations

from datetime import timedelta

from omnibot.domain.model import Channel, ChannelState, Contact
from omnibot.services.linking import MessengerUser
from tests.unit.conftest import World

OLENA_TG = MessengerUser(Channel.TELEGRAM, "42", "Olena", "Kovalenko", "uk")
OLENA_VIBER = MessengerUser(Channel.VIBER, "01234567890A=", "Olena", None, "uk")
MALLORY_TG = MessengerUser(Channel.TELEGRAM, "666", "Mallory", None, "en")
PHONE = "+380501234567"


def test_deep_link_start_links_the_account_to_the_order_and_asks_for_the_phone(world: World) -> None:
    reply = world.linking.start(OLENA_TG, "ORD-1234")
    assert reply.request_phone
    assert "ORD-1234" in reply.text
    [linked] = world.contacts.find_by_order("ORD-1234")
    assert linked.telegram_chat_id == 42 and linked.telegram_linked_at == world.clock.now()
    assert (linked.first_name, linked.language) == ("Olena", "uk")


def test_own_shared_contact_binds_a_verified_phone(world: World) -> None:
    world.linking.start(OLENA_TG, "ORD-1")
    reply = world.linking.share_contact(OLENA_TG, "380501234567", is_own=True)
    assert reply.remove_keyboard
    found = world.contacts.find_by_phone(PHONE)
    assert found is not None and found.telegram_chat_id == 42 and found.phone_verified


def test_someone_elses_contact_card_binds_nothing(world: World) -> None:
    world.linking.start(OLENA_TG, "ORD-1")
    reply = world.linking.share_contact(OLENA_TG, "+380671112233", is_own=False)
    assert reply.request_phone
    assert world.contacts.find_by_phone("+380671112233") is None


def test_unreadable_phone_asks_again(world: World) -> None:
    assert world.linking.share_contact(OLENA_TG, "not a phone", is_own=True).request_phone


def test_same_phone_on_both_messengers_is_one_customer(world: World) -> None:
    world.linking.start(OLENA_VIBER, "ORD-1")
    world.linking.share_contact(OLENA_VIBER, "380501234567", is_own=True)
    world.linking.start(OLENA_TG, "ORD-1")
    world.linking.share_contact(OLENA_TG, "+380 50 123 45 67", is_own=True)
    customer = world.contacts.find_by_phone(PHONE)
    assert customer is not None
    assert (customer.telegram_chat_id, customer.viber_user_id) == (42, "01234567890A=")
    assert world.contacts.find_by_telegram_chat(42) == customer
    assert [c.id for c in world.contacts.find_by_order("ORD-1")] == [customer.id]


def test_stop_opts_out_and_start_opts_back_in(world: World) -> None:
    world.linking.start(OLENA_TG, None)
    assert "/start" in world.linking.stop(OLENA_TG).text
    stopped = world.contacts.find_by_telegram_chat(42)
    assert stopped is not None and stopped.telegram_state is ChannelState.OPTED_OUT
    world.linking.start(OLENA_TG, None)
    again = world.contacts.find_by_telegram_chat(42)
    assert again is not None and again.telegram_state is ChannelState.ACTIVE


def test_a_block_reported_by_the_messenger_is_recorded(world: World) -> None:
    world.linking.start(OLENA_TG, None)
    world.linking.set_state(OLENA_TG, ChannelState.BLOCKED)
    blocked = world.contacts.find_by_telegram_chat(42)
    assert blocked is not None and blocked.telegram_state is ChannelState.BLOCKED


def test_state_of_an_unknown_account_is_ignored(world: World) -> None:
    world.linking.set_state(MessengerUser(Channel.VIBER, "unknown="), ChannelState.OPTED_OUT)
    assert world.contacts.find_by_viber_user("unknown=") is None


def test_known_customer_starting_again_is_not_asked_for_the_phone(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    reply = world.linking.start(OLENA_TG, "ORD-9")
    assert not reply.request_phone and "ORD-9" in reply.text


def test_a_signed_link_binds_its_phone_in_one_click(world: World) -> None:
    link = world.links.create(PHONE, "ORD-5")
    assert link.telegram_url == f"https://t.me/shop_bot?start={link.token}"
    assert link.viber_url == f"viber://pa?chatURI=shopbot&context={link.token}"
    assert len(link.token) <= 64 and link.token.replace("-", "").replace("_", "").isalnum()
    reply = world.linking.start(OLENA_TG, link.token)
    assert "+380*******67" in reply.text
    customer = world.contacts.find_by_phone(PHONE)
    assert customer is not None and customer.phone_verified and customer.telegram_chat_id == 42
    assert world.tokens.contacts_for_order("ORD-5") == [customer.id]


def test_a_used_link_does_not_bind_a_second_account(world: World) -> None:
    link = world.links.create(PHONE)
    world.linking.start(OLENA_TG, link.token)
    reply = world.linking.start(MALLORY_TG, link.token)
    assert "already been used" in reply.text
    customer = world.contacts.find_by_phone(PHONE)
    assert customer is not None and customer.telegram_chat_id == 42
    # The owner opening it again is simply welcomed.
    assert "Вітаємо знову" in world.linking.start(OLENA_TG, link.token).text


def test_an_expired_link_binds_nothing(world: World) -> None:
    link = world.links.create(PHONE, ttl=timedelta(hours=1))
    world.clock.advance(3601)
    assert "expired" in world.linking.start(MALLORY_TG, link.token).text
    assert world.contacts.find_by_phone(PHONE) is None


def test_a_link_of_another_bot_is_told_apart(world: World) -> None:
    link = world.links.create(PHONE)
    forged = link.token[:-4] + ("AAAA" if not link.token.endswith("AAAA") else "BBBB")
    assert "another bot" in world.linking.start(MALLORY_TG, forged).text
    assert world.contacts.find_by_phone(PHONE) is None
