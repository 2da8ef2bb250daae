"""The inbound use case: what each messenger update stores, and what the bot answers, where."""

from __future__ import annotations

import json

from omnibot.domain.model import (
    AttemptOutcome,
    Channel,
    ChannelState,
    Contact,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
)
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
from tests.unit.conftest import InboundWorld, World

OLENA_TG = MessengerUser(Channel.TELEGRAM, "42", "Olena", "Kovalenko", "en")
OLENA_VIBER = MessengerUser(Channel.VIBER, "01234567890A=", "Olena", None, "en")
MALLORY_TG = MessengerUser(Channel.TELEGRAM, "666", "Mallory", None, "en")
PHONE = "+380501234567"
HOOK = "https://shop.example/hook"


def telegram(event: Event, key: str | None = "1") -> InboundUpdate:
    """Telegram: every update has an id, and every answer may carry a reply."""
    return InboundUpdate(Channel.TELEGRAM, key, event, reply_in_answer=True)


def viber(event: Event, key: str | None = "message:1", reply_in_answer: bool = False) -> InboundUpdate:
    """Viber: only ``conversation_started``'s answer carries a reply."""
    return InboundUpdate(Channel.VIBER, key, event, reply_in_answer=reply_in_answer)


def sent_on_viber(world: World, callback_url: str | None = HOOK) -> Notification:
    notification = Notification(
        id="n1", phone=PHONE, order_id="ORD-1", items=["Tea"], callback_url=callback_url,
        status=NotificationStatus.SENT, channel=Channel.VIBER, result="Sent via Viber",
        attempts=[DeliveryAttempt(Channel.VIBER, AttemptOutcome.SENT, provider_message_id="tok-1")])
    world.notifications.add(notification)
    return notification


def callbacks_posted(inbound: InboundWorld) -> list[tuple[str, str, dict[str, object]]]:
    return [(notification_id, url, json.loads(body))
            for notification_id, url, body in (row.payload for row in inbound.callbacks.rows.values())]


# Deep links with an order id


def test_telegram_start_with_an_order_id_links_the_order_and_answers_in_the_webhook(
        world: World, inbound: InboundWorld) -> None:
    reply = inbound.inbound.handle(telegram(Started(OLENA_TG, "ORD-1234"), key="100"))
    assert reply is not None
    assert (reply.channel, reply.address) == (Channel.TELEGRAM, "42")
    assert reply.message.request_phone and "ORD-1234" in reply.message.text
    [linked] = world.contacts.find_by_order("ORD-1234")
    assert linked.telegram_chat_id == 42 and linked.first_name == "Olena"
    # Kept with the update's key for a redelivery; nothing for the workers to send.
    assert inbound.updates.reply_to(Channel.TELEGRAM, "100") == reply
    assert inbound.replies.rows == {} and not inbound.replies_waiting.is_set()


def test_a_ukrainian_customer_is_welcomed_in_ukrainian(inbound: InboundWorld) -> None:
    olena = MessengerUser(Channel.TELEGRAM, "42", "Олена", None, "uk")
    reply = inbound.inbound.handle(telegram(Started(olena, "ORD-7")))
    assert reply is not None and reply.message.text.startswith("Вітаємо!") and "ORD-7" in reply.message.text


def test_a_known_customer_starting_again_is_not_asked_for_the_phone(world: World, inbound: InboundWorld) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    reply = inbound.inbound.handle(telegram(Started(OLENA_TG, "ORD-9")))
    assert reply is not None and not reply.message.request_phone
    assert reply.message.text == "Hello again! Updates about order ORD-9 will arrive in this chat."


# Signed link tokens


def test_a_signed_link_binds_the_phone_and_a_redelivery_gets_the_same_answer(
        world: World, inbound: InboundWorld) -> None:
    link = world.links.create(PHONE, "ORD-5")
    update = telegram(Started(OLENA_TG, link.token), key="200")
    first = inbound.inbound.handle(update)
    assert first is not None and first.message.text == "Done! Updates for +380*******67 will arrive in this chat."
    customer = world.contacts.find_by_phone(PHONE)
    assert customer is not None and customer.phone_verified and customer.telegram_chat_id == 42
    assert world.tokens.contacts_for_order("ORD-5") == [customer.id]
    assert [c.id for c in world.contacts.find_by_order("ORD-5")] == [customer.id]
    world.clock.advance(30)
    # The messenger did not get the answer: the same one again, not "this link is already yours".
    assert inbound.inbound.handle(update) == first
    assert world.contacts.find_by_phone(PHONE) == customer
    assert len(world.contacts.find_many([], [PHONE])) == 1
    # The customer opening the link again is another update: acted on, and simply welcomed.
    again = inbound.inbound.handle(telegram(Started(OLENA_TG, link.token), key="201"))
    assert again is not None
    assert again.message.text == "Hello again! Updates about order ORD-5 will arrive in this chat."


def test_a_link_used_by_another_account_binds_nothing(world: World, inbound: InboundWorld) -> None:
    link = world.links.create(PHONE)
    inbound.inbound.handle(telegram(Started(OLENA_TG, link.token), key="1"))
    reply = inbound.inbound.handle(telegram(Started(MALLORY_TG, link.token), key="2"))
    assert reply is not None and reply.message.text.startswith("This link has already been used")
    customer = world.contacts.find_by_phone(PHONE)
    assert customer is not None and customer.telegram_chat_id == 42
    mallory = world.contacts.find_by_telegram_chat(666)
    assert mallory is not None and mallory.phone is None


def test_an_expired_link_binds_nothing(world: World, inbound: InboundWorld) -> None:
    link = world.links.create(PHONE)
    world.clock.advance(world.links.default_ttl.total_seconds() + 1)
    reply = inbound.inbound.handle(telegram(Started(OLENA_TG, link.token)))
    assert reply is not None and reply.message.text.startswith("This link has expired")
    assert world.contacts.find_by_phone(PHONE) is None


def test_a_link_of_another_bot_binds_nothing(world: World, inbound: InboundWorld) -> None:
    link = world.links.create(PHONE, "ORD-5")
    forged = link.token[:-4] + ("AAAA" if not link.token.endswith("AAAA") else "BBBB")
    reply = inbound.inbound.handle(telegram(Started(OLENA_TG, forged)))
    assert reply is not None and reply.message.text.startswith("This link belongs to another bot")
    assert world.contacts.find_by_phone(PHONE) is None
    assert world.contacts.find_by_order(forged) == [] and world.contacts.find_by_order("ORD-5") == []


# Shared phone numbers


def test_the_customers_own_number_binds_a_verified_phone(world: World, inbound: InboundWorld) -> None:
    inbound.inbound.handle(telegram(Started(OLENA_TG, "ORD-1"), key="1"))
    reply = inbound.inbound.handle(telegram(SharedContact(OLENA_TG, "380501234567", is_own=True), key="2"))
    assert reply is not None and reply.message.remove_keyboard
    assert reply.message.text.startswith("Thank you! Your phone number is linked")
    customer = world.contacts.find_by_phone(PHONE)
    assert customer is not None and customer.telegram_chat_id == 42 and customer.phone_verified


def test_someone_elses_contact_card_binds_nothing_and_asks_for_the_own_number(
        world: World, inbound: InboundWorld) -> None:
    inbound.inbound.handle(telegram(Started(OLENA_TG, "ORD-1"), key="1"))
    reply = inbound.inbound.handle(telegram(SharedContact(OLENA_TG, "+380671112233", is_own=False), key="2"))
    assert reply is not None and reply.message.request_phone
    assert reply.message.text == "Please share your own phone number with the button below."
    assert world.contacts.find_by_phone("+380671112233") is None


def test_an_unreadable_phone_is_asked_for_again(world: World, inbound: InboundWorld) -> None:
    reply = inbound.inbound.handle(telegram(SharedContact(OLENA_TG, "not a phone", is_own=True)))
    assert reply is not None and reply.message.request_phone
    assert reply.message.text.startswith("Sorry, we could not read that phone number")
    assert world.contacts.find_by_telegram_chat(42) is None


def test_a_phone_proved_by_another_customer_is_not_taken(world: World, inbound: InboundWorld) -> None:
    owner = world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=7))
    inbound.inbound.handle(telegram(Started(OLENA_TG, "ORD-1"), key="1"))
    reply = inbound.inbound.handle(telegram(SharedContact(OLENA_TG, "+380501234567", is_own=True), key="2"))
    assert reply is not None and reply.message.remove_keyboard
    assert reply.message.text.startswith("This phone number is already connected to another account")
    assert world.contacts.find_by_phone(PHONE) == world.contacts.get(owner.id or 0)
    sharer = world.contacts.find_by_telegram_chat(42)
    assert sharer is not None and sharer.phone is None


def test_the_same_phone_shared_on_viber_is_one_customer_and_the_answer_is_queued(
        world: World, inbound: InboundWorld) -> None:
    link = world.links.create(PHONE)
    inbound.inbound.handle(telegram(Started(OLENA_TG, link.token)))
    reply = inbound.inbound.handle(viber(SharedContact(OLENA_VIBER, "380501234567", is_own=True)))
    assert reply is None
    customer = world.contacts.find_by_phone(PHONE)
    assert customer is not None and (customer.telegram_chat_id, customer.viber_user_id) == (42, "01234567890A=")
    [queued] = inbound.replies.rows.values()
    assert (queued.payload.channel, queued.payload.address) == (Channel.VIBER, "01234567890A=")
    assert queued.payload.message.text.startswith("Thank you! Your phone number is linked")
    assert inbound.replies_waiting.is_set()


# Stop, block, unblock, other messages


def test_stop_opts_out_and_answers_and_start_opts_back_in(world: World, inbound: InboundWorld) -> None:
    inbound.inbound.handle(telegram(Started(OLENA_TG, None), key="1"))
    reply = inbound.inbound.handle(telegram(Stopped(OLENA_TG), key="2"))
    assert reply is not None and "/start" in reply.message.text and reply.message.remove_keyboard
    stopped = world.contacts.find_by_telegram_chat(42)
    assert stopped is not None and stopped.telegram_state is ChannelState.OPTED_OUT
    inbound.inbound.handle(telegram(Started(OLENA_TG, None), key="3"))
    again = world.contacts.find_by_telegram_chat(42)
    assert again is not None and again.telegram_state is ChannelState.ACTIVE


def test_a_block_and_an_unblock_change_the_state_and_answer_nothing(world: World, inbound: InboundWorld) -> None:
    inbound.inbound.handle(telegram(Started(OLENA_TG, None), key="1"))
    assert inbound.inbound.handle(telegram(StateReported(OLENA_TG, ChannelState.BLOCKED), key="2")) is None
    blocked = world.contacts.find_by_telegram_chat(42)
    assert blocked is not None and blocked.telegram_state is ChannelState.BLOCKED
    assert inbound.inbound.handle(telegram(StateReported(OLENA_TG, ChannelState.ACTIVE), key="3")) is None
    unblocked = world.contacts.find_by_telegram_chat(42)
    assert unblocked is not None and unblocked.telegram_state is ChannelState.ACTIVE
    assert inbound.updates.reply_to(Channel.TELEGRAM, "2") is None and inbound.replies.rows == {}


def test_a_viber_unsubscribe_is_recorded_and_queues_nothing(world: World, inbound: InboundWorld) -> None:
    world.contacts.add(Contact(viber_user_id="01234567890A="))
    unsubscribed = StateReported(MessengerUser(Channel.VIBER, "01234567890A="), ChannelState.OPTED_OUT)
    assert inbound.inbound.handle(viber(unsubscribed, key="unsubscribed:9")) is None
    contact = world.contacts.find_by_viber_user("01234567890A=")
    assert contact is not None and contact.viber_state is ChannelState.OPTED_OUT
    assert inbound.replies.rows == {} and not inbound.replies_waiting.is_set()


def test_a_state_report_of_an_unknown_account_is_ignored(world: World, inbound: InboundWorld) -> None:
    assert inbound.inbound.handle(telegram(StateReported(MALLORY_TG, ChannelState.BLOCKED))) is None
    assert world.contacts.find_by_telegram_chat(666) is None


def test_any_other_telegram_message_is_answered_with_help(world: World, inbound: InboundWorld) -> None:
    reply = inbound.inbound.handle(telegram(Texted(OLENA_TG)))
    assert reply is not None and reply.message.text.startswith("This bot sends you updates about your orders")
    assert world.contacts.find_by_telegram_chat(42) is not None


def test_a_viber_message_queues_its_answer_for_the_workers_and_wakes_them(world: World, inbound: InboundWorld) -> None:
    assert inbound.inbound.handle(viber(Texted(OLENA_VIBER), key="message:5")) is None
    [queued] = inbound.replies.rows.values()
    assert queued.payload.channel is Channel.VIBER and queued.payload.address == "01234567890A="
    assert queued.payload.message.text.startswith("This bot sends you updates about your orders")
    assert (queued.attempts, queued.next_attempt_at) == (0, world.clock.now())
    assert inbound.replies_waiting.is_set()
    # Nothing kept to answer a redelivery with: the answer was never the webhook's to carry.
    assert inbound.updates.reply_to(Channel.VIBER, "message:5") is None


def test_a_redelivered_viber_message_is_not_answered_twice(inbound: InboundWorld) -> None:
    inbound.inbound.handle(viber(Texted(OLENA_VIBER), key="message:5"))
    inbound.replies_waiting.clear()
    assert inbound.inbound.handle(viber(Texted(OLENA_VIBER), key="message:5")) is None
    assert len(inbound.replies.rows) == 1 and not inbound.replies_waiting.is_set()


def test_a_viber_message_resubscribes_an_opted_out_account(world: World, inbound: InboundWorld) -> None:
    world.contacts.add(Contact(viber_user_id="01234567890A=", viber_state=ChannelState.OPTED_OUT))
    inbound.inbound.handle(viber(Texted(OLENA_VIBER)))
    contact = world.contacts.find_by_viber_user("01234567890A=")
    assert contact is not None and contact.viber_state is ChannelState.ACTIVE


def test_viber_conversation_started_answers_in_the_webhook_without_resubscribing(
        world: World, inbound: InboundWorld) -> None:
    world.contacts.add(Contact(viber_user_id="01234567890A=", viber_state=ChannelState.OPTED_OUT))
    update = viber(Started(OLENA_VIBER, "ORD-3"), key="conversation_started:77", reply_in_answer=True)
    reply = inbound.inbound.handle(update)
    assert reply is not None and (reply.channel, reply.address) == (Channel.VIBER, "01234567890A=")
    assert reply.message.request_phone and "ORD-3" in reply.message.text
    assert inbound.updates.reply_to(Channel.VIBER, "conversation_started:77") == reply
    assert inbound.replies.rows == {} and not inbound.replies_waiting.is_set()
    # Opening the chat is not subscribing: the customer's opt-out holds.
    contact = world.contacts.find_by_viber_user("01234567890A=")
    assert contact is not None and contact.viber_state is ChannelState.OPTED_OUT
    assert [c.id for c in world.contacts.find_by_order("ORD-3")] == [contact.id]


# Delivery reports


def test_delivered_and_seen_receipts_move_the_notification_on_and_tell_the_shop(
        world: World, inbound: InboundWorld) -> None:
    sent_on_viber(world)
    delivered = Receipt(Channel.VIBER, "tok-1", NotificationStatus.DELIVERED)
    assert inbound.inbound.handle(viber(delivered, key="delivered:tok-1")) is None
    stored = world.notifications.get("n1")
    assert stored is not None and stored.status is NotificationStatus.DELIVERED
    seen = Receipt(Channel.VIBER, "tok-1", NotificationStatus.SEEN)
    assert inbound.inbound.handle(viber(seen, key="seen:tok-1")) is None
    stored = world.notifications.get("n1")
    assert stored is not None and stored.status is NotificationStatus.SEEN
    posted = callbacks_posted(inbound)
    assert [(nid, url) for nid, url, _ in posted] == [("n1", HOOK), ("n1", HOOK)]
    assert [(body["event_id"], body["status"], body["channel"]) for *_, body in posted] == [
        ("n1:delivered", "delivered", "viber"), ("n1:seen", "seen", "viber")]
    # A receipt does not end a notification: it was counted when it was sent.
    assert inbound.telemetry.finished_notifications == []
    assert inbound.replies.rows == {}


def test_a_late_delivered_receipt_does_not_move_a_seen_notification_back(world: World, inbound: InboundWorld) -> None:
    sent_on_viber(world)
    inbound.inbound.handle(viber(Receipt(Channel.VIBER, "tok-1", NotificationStatus.SEEN), key="seen:tok-1"))
    inbound.inbound.handle(viber(Receipt(Channel.VIBER, "tok-1", NotificationStatus.DELIVERED),
                                 key="delivered:tok-1"))
    stored = world.notifications.get("n1")
    assert stored is not None and stored.status is NotificationStatus.SEEN
    assert [body["status"] for *_, body in callbacks_posted(inbound)] == ["seen"]


def test_a_receipt_of_a_notification_without_a_callback_url_tells_no_one(world: World, inbound: InboundWorld) -> None:
    sent_on_viber(world, callback_url=None)
    inbound.inbound.handle(viber(Receipt(Channel.VIBER, "tok-1", NotificationStatus.DELIVERED)))
    stored = world.notifications.get("n1")
    assert stored is not None and stored.status is NotificationStatus.DELIVERED
    assert inbound.callbacks.rows == {}


def test_a_receipt_of_an_unknown_message_changes_nothing(world: World, inbound: InboundWorld) -> None:
    sent_on_viber(world)
    inbound.inbound.handle(viber(Receipt(Channel.VIBER, "tok-other", NotificationStatus.DELIVERED)))
    stored = world.notifications.get("n1")
    assert stored is not None and stored.status is NotificationStatus.SENT
    assert inbound.callbacks.rows == {}


def test_an_undelivered_report_fails_the_sent_notification_tells_the_shop_and_the_metrics(
        world: World, inbound: InboundWorld) -> None:
    sent_on_viber(world)
    report = Undelivered(Channel.VIBER, "tok-1", "the user's device is unreachable")
    assert inbound.inbound.handle(viber(report, key="failed:tok-1")) is None
    stored = world.notifications.get("n1")
    assert stored is not None
    assert (stored.status, stored.result) == (NotificationStatus.FAILED, "Failed: Delivery failed")
    last = stored.attempts[-1]
    assert (last.channel, last.outcome, last.provider_message_id) == (
        Channel.VIBER, AttemptOutcome.PERMANENT_FAILURE, "tok-1")
    assert last.error == "Viber could not deliver it: the user's device is unreachable"
    [(nid, url, body)] = callbacks_posted(inbound)
    assert (nid, url, body["status"], body["result"]) == ("n1", HOOK, "failed", "Failed: Delivery failed")
    assert [n.id for n in inbound.telemetry.finished_notifications] == ["n1"]
    # Another report of the same failure changed nothing: no second callback, not counted twice.
    inbound.inbound.handle(viber(report, key="failed:tok-1:again"))
    assert len(inbound.callbacks.rows) == 1 and len(inbound.telemetry.finished_notifications) == 1


def test_an_undelivered_report_of_an_unknown_message_changes_nothing(world: World, inbound: InboundWorld) -> None:
    sent_on_viber(world)
    assert inbound.inbound.handle(viber(Undelivered(Channel.VIBER, "tok-other", "gone"))) is None
    stored = world.notifications.get("n1")
    assert stored is not None and stored.status is NotificationStatus.SENT
    assert inbound.callbacks.rows == {} and inbound.telemetry.finished_notifications == []


def test_a_redelivered_report_is_recorded_once(world: World, inbound: InboundWorld) -> None:
    sent_on_viber(world)
    update = viber(Receipt(Channel.VIBER, "tok-1", NotificationStatus.SEEN), key="seen:tok-1")
    inbound.inbound.handle(update)
    inbound.inbound.handle(update)
    assert len(inbound.callbacks.rows) == 1


# Update keys and transactions


def test_an_update_without_a_key_is_acted_on_every_time(inbound: InboundWorld) -> None:
    inbound.inbound.handle(viber(Texted(OLENA_VIBER), key=None))
    inbound.inbound.handle(viber(Texted(OLENA_VIBER), key=None))
    assert len(inbound.replies.rows) == 2
    assert inbound.updates.handled == {}


def test_an_update_without_a_key_keeps_no_reply(world: World, inbound: InboundWorld) -> None:
    link = world.links.create(PHONE)
    first = inbound.inbound.handle(telegram(Started(OLENA_TG, link.token), key=None))
    second = inbound.inbound.handle(telegram(Started(OLENA_TG, link.token), key=None))
    assert first is not None and first.message.text.startswith("Done!")
    assert second is not None and second.message.text.startswith("Hello again!")  # acted on again
    assert inbound.updates.handled == {}


def test_an_account_taken_by_a_concurrent_update_is_found_on_the_second_run(
        world: World, inbound: InboundWorld) -> None:
    inbound.store.race_next_run()
    reply = inbound.inbound.handle(telegram(Started(OLENA_TG, "ORD-1"), key="300"))
    assert inbound.store.runs == 2
    assert reply is not None and reply.message.request_phone and "ORD-1" in reply.message.text
    [linked] = world.contacts.find_by_order("ORD-1")
    assert linked.telegram_chat_id == 42 and world.contacts.find_by_telegram_chat(42) == linked
    # The first run's claim of the key was rolled back with it: the second run acted, and kept its reply.
    assert inbound.updates.reply_to(Channel.TELEGRAM, "300") == reply


def test_a_queued_reply_of_a_run_that_raced_is_queued_once(world: World, inbound: InboundWorld) -> None:
    inbound.store.race_next_run()
    assert inbound.inbound.handle(viber(Texted(OLENA_VIBER), key="message:8")) is None
    assert inbound.store.runs == 2
    [queued] = inbound.replies.rows.values()
    assert (queued.payload.channel, queued.payload.address) == (Channel.VIBER, "01234567890A=")
    assert inbound.replies_waiting.is_set()
    assert world.contacts.find_by_viber_user("01234567890A=") is not None
