from __future__ import annotations

from omnibot.domain.errors import PermanentFailure, TransientFailure
from omnibot.domain.model import (
    AttemptOutcome,
    Channel,
    ChannelState,
    Contact,
    NotificationStatus,
    OrderLink,
)
from omnibot.services.linking import MessengerUser
from tests.unit.conftest import PHONE, World


def test_known_telegram_customer_gets_the_order_on_telegram(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    result = world.notifier.trigger(PHONE, "ORD-1", ["Laptop"])
    assert result.result == "Sent via Telegram"
    assert [address for address, _ in world.telegram.sent] == ["42"]
    assert world.viber.sent == []
    stored = world.notifications.get(result.id)
    assert stored is not None and stored.status is NotificationStatus.SENT
    assert stored.channel is Channel.TELEGRAM
    assert [a.outcome for a in stored.attempts] == [AttemptOutcome.SENT]


def test_blocked_telegram_falls_back_to_viber_and_marks_the_channel(world: World) -> None:
    contact = world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.telegram.failure = PermanentFailure("telegram 403: Forbidden: bot was blocked by the user",
                                              recipient_state=ChannelState.BLOCKED)
    result = world.notifier.trigger(PHONE, "ORD-1", ["Laptop"])
    assert result.result == "Sent via Viber"
    assert [address for address, _ in world.viber.sent] == ["v="]
    assert contact.id is not None
    stored_contact = world.contacts.get(contact.id)
    assert stored_contact is not None and stored_contact.telegram_state is ChannelState.BLOCKED
    stored = world.notifications.get(result.id)
    assert stored is not None
    assert [(a.channel, a.outcome) for a in stored.attempts] == [
        (Channel.TELEGRAM, AttemptOutcome.PERMANENT_FAILURE), (Channel.VIBER, AttemptOutcome.SENT)]
    assert "blocked" in (stored.attempts[0].error or "")


def test_a_blocked_channel_is_skipped_next_time_without_a_send(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42,
                               telegram_state=ChannelState.BLOCKED, viber_user_id="v="))
    result = world.notifier.trigger(PHONE, "ORD-1", [])
    assert result.result == "Sent via Viber"
    assert world.telegram.sent == []
    assert result.attempts[0].outcome is AttemptOutcome.SKIPPED


def test_transient_telegram_failure_still_reaches_the_customer_on_viber(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.telegram.failure = TransientFailure("telegram: timed out")
    assert world.notifier.trigger(PHONE, None, []).result == "Sent via Viber"


def test_unknown_customer_is_not_found_and_recorded(world: World) -> None:
    result = world.notifier.trigger(PHONE, "ORD-404", ["Laptop"])
    assert result.result == "Failed: User not found"
    stored = world.notifications.get(result.id)
    assert stored is not None and stored.status is NotificationStatus.FAILED
    assert stored.result == "Failed: User not found" and stored.attempts == []


def test_every_channel_refusing_for_good_is_a_delivery_failure(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.telegram.failure = PermanentFailure("telegram 400: Bad Request: chat not found",
                                              recipient_state=ChannelState.UNREACHABLE)
    world.viber.failure = PermanentFailure("viber 6: receiverNotSubscribed",
                                           recipient_state=ChannelState.BLOCKED)
    result = world.notifier.trigger(PHONE, None, [])
    assert result.result == "Failed: Delivery failed"
    assert result.status is NotificationStatus.FAILED


def test_transient_failures_everywhere_leave_the_trigger_queued_for_the_worker(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.telegram.failure = TransientFailure("telegram: HTTP 502")
    world.viber.failure = TransientFailure("viber: timed out")
    result = world.notifier.trigger(PHONE, "ORD-1", ["Laptop"])
    assert result.result == "Queued for retry"
    stored = world.notifications.get(result.id)
    assert stored is not None and stored.status is NotificationStatus.QUEUED

    world.telegram.failure = None
    world.clock.advance(60)
    [claimed] = world.queue.claim("worker:1", 10, 60)
    assert world.engine.deliver(claimed, "worker:1").result == "Sent via Telegram"
    assert len(world.telegram.sent) == 1


def test_customer_with_every_channel_blocked_has_no_reachable_channel(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42,
                               telegram_state=ChannelState.BLOCKED))
    assert world.notifier.trigger(PHONE, None, []).result == "Failed: No reachable channel"


def test_account_linked_through_the_order_is_the_customer_and_learns_the_phone(trusting_world: World) -> None:
    world = trusting_world
    contact = world.contacts.add(Contact(telegram_chat_id=42))
    assert contact.id is not None
    world.contacts.link_order(OrderLink("ORD-1", contact.id, Channel.TELEGRAM))
    assert world.notifier.trigger(PHONE, "ORD-1", ["Laptop"]).result == "Sent via Telegram"
    found = world.contacts.find_by_phone(PHONE)
    assert found is not None and found.telegram_chat_id == 42


def test_telegram_and_viber_accounts_of_one_order_become_one_customer(trusting_world: World) -> None:
    world = trusting_world
    viber = world.contacts.add(Contact(viber_user_id="v="))
    telegram = world.contacts.add(Contact(telegram_chat_id=42))
    assert viber.id is not None and telegram.id is not None
    world.contacts.link_order(OrderLink("ORD-1", viber.id, Channel.VIBER))
    world.contacts.link_order(OrderLink("ORD-1", telegram.id, Channel.TELEGRAM))
    world.telegram.failure = PermanentFailure("telegram 403: Forbidden: bot was blocked by the user",
                                              recipient_state=ChannelState.BLOCKED)
    assert world.notifier.trigger(PHONE, "ORD-1", []).result == "Sent via Viber"
    customer = world.contacts.find_by_phone(PHONE)
    assert customer is not None
    assert (customer.telegram_chat_id, customer.viber_user_id) == (42, "v=")


def test_an_order_account_with_another_phone_is_not_this_customer(trusting_world: World) -> None:
    world = trusting_world
    someone = world.contacts.add(Contact(phone="+380671112233", telegram_chat_id=42))
    assert someone.id is not None
    world.contacts.link_order(OrderLink("ORD-1", someone.id, Channel.TELEGRAM))
    assert world.notifier.trigger(PHONE, "ORD-1", []).result == "Failed: User not found"
    assert world.telegram.sent == []


def test_an_account_that_guessed_an_order_id_receives_nothing(world: World) -> None:
    mallory = MessengerUser(Channel.TELEGRAM, "666", "Mallory")
    world.linking.start(mallory, "ORD-1235")
    world.linking.share_contact(mallory, "+380671112233", is_own=True)
    assert world.notifier.trigger(PHONE, "ORD-1235", ["Secret gift"]).result == "Failed: User not found"
    assert world.telegram.sent == []


def test_without_a_phone_only_a_signed_link_for_the_order_counts(world: World) -> None:
    world.linking.start(MessengerUser(Channel.TELEGRAM, "666"), "ORD-9")  # a guess: not trusted
    assert world.notifier.trigger(None, "ORD-9", []).result == "Failed: User not found"
    link = world.links.create(PHONE, "ORD-9")
    world.linking.start(MessengerUser(Channel.TELEGRAM, "42"), link.token)
    assert world.notifier.trigger(None, "ORD-9", []).result == "Sent via Telegram"
    assert [address for address, _ in world.telegram.sent if address != "666"] == ["42"]


def test_the_order_message_comes_in_the_customers_language(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, language="uk"))
    world.notifier.trigger(PHONE, "ORD-1", ["<b>Ноутбук</b>"])
    [(_, message)] = world.telegram.sent
    assert message.html == "<b>Ваше замовлення ORD-1 готове!</b>\nТовари:\n• &lt;b&gt;Ноутбук&lt;/b&gt;"
