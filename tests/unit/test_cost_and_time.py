"""Routing by cost and by time: deadlines, flood waits handed over, quiet hours, Viber's billing and budget.

Every test runs the pass both ways, on the calling thread and on an event loop, as test_delivery's do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from omnibot.domain.billing import BillingModel, ViberTerms
from omnibot.domain.errors import PermanentFailure, TransientFailure
from omnibot.domain.model import (
    AttemptOutcome,
    Billing,
    Channel,
    Contact,
    NotificationStatus,
    Price,
    Priority,
    StatusCallback,
)
from omnibot.domain.quiet_hours import QuietHours
from omnibot.ports import Limit
from tests.fakes import InMemoryViberLedger, RecordingTelemetry
from tests.unit.conftest import PHONE, World, make_world
from tests.unit.test_delivery import OnEventLoop, one_pass, submit

HRYVNIA_PRICE = Price(Decimal("0.85"), "UAH")


@pytest.fixture(params=["thread", "event loop"])
def drive(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def world_of(drive: str, **options: Any) -> World:
    world = make_world(**options)
    if drive == "event loop":
        world.engine = OnEventLoop(world.engine)  # type: ignore[assignment]
    return world


def stored(world: World, notification_id: str) -> Any:
    notification = world.notifications.get(notification_id)
    assert notification is not None
    return notification


# Deadlines


def test_a_notification_past_its_deadline_is_expired_and_never_sent(drive: str) -> None:
    world = world_of(drive)
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    notification_id = submit(world, ttl_seconds=600)
    world.clock.advance(600)
    assert one_pass(world) == ["Expired: deadline passed"]
    assert stored(world, notification_id).status is NotificationStatus.EXPIRED
    assert world.telegram.sent == [] and stored(world, notification_id).attempts == []
    assert one_pass(world) == []  # final: never claimed again


def test_the_shop_hears_of_an_expired_notification_as_of_any_final_status(drive: str) -> None:
    world = world_of(drive)
    world.engine._status_callback = lambda n: StatusCallback("https://shop.example/omnibot", str(n.status))  # type: ignore[union-attr]
    notification_id = submit(world, ttl_seconds=60)
    world.clock.advance(60)
    assert one_pass(world) == ["Expired: deadline passed"]
    assert world.queue.callbacks == [(notification_id, StatusCallback("https://shop.example/omnibot", "expired"))]


def test_a_deadline_given_as_an_instant_holds_as_a_ttl_does(drive: str) -> None:
    world = world_of(drive)
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    deadline = world.clock.now() + timedelta(minutes=5)
    notification_id = submit(world, expires_at=deadline)
    assert stored(world, notification_id).expires_at == deadline
    assert one_pass(world) == ["Sent via Telegram"]  # before it: sent as usual


def test_the_default_deadline_applies_when_the_request_names_none(drive: str) -> None:
    world = world_of(drive, default_ttl=timedelta(hours=2))
    notification_id = submit(world)
    assert stored(world, notification_id).expires_at == world.clock.now() + timedelta(hours=2)


def test_a_retry_that_could_only_come_after_the_deadline_expires_the_notification_now(drive: str) -> None:
    world = world_of(drive)
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    world.telegram.failure = TransientFailure("telegram: HTTP 502")
    notification_id = submit(world, ttl_seconds=1)  # the first retry is 2 s away
    assert one_pass(world) == ["Expired: deadline passed"]
    notification = stored(world, notification_id)
    assert notification.status is NotificationStatus.EXPIRED
    assert [a.outcome for a in notification.attempts] == [AttemptOutcome.TRANSIENT_FAILURE]


# Flood waits and outages hand over


def test_a_long_flood_wait_hands_the_notification_to_viber_at_once(drive: str) -> None:
    world = world_of(drive, max_channel_wait_seconds=60)
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.telegram.failure = TransientFailure("telegram 429: retry after 3600", retry_after=3600, throttled=True)
    notification_id = submit(world)
    assert one_pass(world) == ["Sent via Viber"]
    assert world.limiter.paused() == {"telegram": 3600.0}  # the bot still waits, for every worker
    assert [(a.channel, a.outcome) for a in stored(world, notification_id).attempts] == \
        [(Channel.TELEGRAM, AttemptOutcome.TRANSIENT_FAILURE), (Channel.VIBER, AttemptOutcome.SENT)]


def test_a_short_flood_wait_is_waited_out_on_telegram(drive: str) -> None:
    world = world_of(drive, max_channel_wait_seconds=60)
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.telegram.failure = TransientFailure("telegram 429: retry after 30", retry_after=30, throttled=True)
    notification_id = submit(world)
    assert one_pass(world) == ["Queued for retry"]
    assert world.viber.sent == []  # free Telegram is worth 30 s
    assert stored(world, notification_id).next_attempt_at == world.clock.now() + timedelta(seconds=30)


def test_a_flood_wait_past_the_deadline_hands_over_even_when_short(drive: str) -> None:
    world = world_of(drive, max_channel_wait_seconds=60)
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.telegram.failure = TransientFailure("telegram 429: retry after 30", retry_after=30, throttled=True)
    submit(world, ttl_seconds=20)
    assert one_pass(world) == ["Sent via Viber"]


def test_a_bot_already_paused_for_long_hands_over_without_a_send(drive: str) -> None:
    world = world_of(drive, max_channel_wait_seconds=60)
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.limiter.pause("telegram", 3600)  # another worker's 429
    notification_id = submit(world)
    assert one_pass(world) == ["Sent via Viber"]
    assert world.telegram.sent == []
    skipped = stored(world, notification_id).attempts[0]
    assert (skipped.channel, skipped.outcome) == (Channel.TELEGRAM, AttemptOutcome.SKIPPED)
    assert "paused" in (skipped.error or "")


def test_an_outage_longer_than_the_channel_wait_hands_over_before_the_failure_count_does(drive: str) -> None:
    world = world_of(drive, max_channel_wait_seconds=60, fallback_after=10)
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.telegram.failure = TransientFailure("telegram: HTTP 502")
    submit(world)
    assert one_pass(world) == ["Queued for retry"]
    world.clock.advance(30)
    assert one_pass(world) == ["Queued for retry"]  # down 30 s: still Telegram's
    world.clock.advance(31)
    assert one_pass(world) == ["Sent via Viber"]  # down 61 s: Viber now, after two failures of ten


# Quiet hours


KYIV_NIGHTS = QuietHours.parse("21:00-08:00", "Europe/Kyiv")


def test_quiet_hours_hold_a_notification_until_morning_without_an_attempt(drive: str) -> None:
    world = world_of(drive, quiet_hours=KYIV_NIGHTS)
    world.clock.advance((datetime(2025, 1, 6, 21, 30, tzinfo=UTC) - world.clock.now()).total_seconds())
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    notification_id = submit(world, ttl_seconds=86_400)
    assert one_pass(world) == ["Queued for retry"]
    notification = stored(world, notification_id)
    assert notification.attempts == [] and world.telegram.sent == []
    # 23:30 in Kyiv (UTC+2 in January): the window ends at 08:00 Kyiv, 06:00 UTC.
    assert notification.next_attempt_at == datetime(2025, 1, 7, 6, 0, tzinfo=UTC)
    world.clock.advance((notification.next_attempt_at - world.clock.now()).total_seconds())
    assert one_pass(world) == ["Sent via Telegram"]


def test_a_notification_whose_deadline_falls_inside_quiet_hours_expires(drive: str) -> None:
    world = world_of(drive, quiet_hours=KYIV_NIGHTS)
    world.clock.advance((datetime(2025, 1, 6, 21, 30, tzinfo=UTC) - world.clock.now()).total_seconds())
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    submit(world, ttl_seconds=3600)
    assert one_pass(world) == ["Expired: deadline passed"]
    assert world.telegram.sent == []


def test_a_high_priority_notification_goes_through_quiet_hours(drive: str) -> None:
    world = world_of(drive, quiet_hours=KYIV_NIGHTS)
    world.clock.advance((datetime(2025, 1, 6, 21, 30, tzinfo=UTC) - world.clock.now()).total_seconds())
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    urgent = submit(world, priority=Priority.HIGH)
    bulk = submit(world, priority=Priority.BULK)
    assert one_pass(world) == ["Sent via Telegram", "Queued for retry"]
    assert stored(world, urgent).status is NotificationStatus.SENT
    assert stored(world, bulk).status is NotificationStatus.QUEUED


def test_the_synchronous_trigger_is_not_held_by_quiet_hours(drive: str) -> None:
    world = world_of(drive, quiet_hours=KYIV_NIGHTS)
    world.clock.advance((datetime(2025, 1, 6, 21, 30, tzinfo=UTC) - world.clock.now()).total_seconds())
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    assert world.notifier.trigger(PHONE, "ORD-1", ["Lamp"]).result == "Sent via Telegram"


def test_quiet_hours_in_a_window_that_does_not_cross_midnight() -> None:
    lunch = QuietHours.parse("13:00-14:00", "UTC")
    assert lunch.remaining(datetime(2025, 1, 6, 13, 15, tzinfo=UTC)) == timedelta(minutes=45)
    assert lunch.remaining(datetime(2025, 1, 6, 14, 0, tzinfo=UTC)) is None
    assert lunch.remaining(datetime(2025, 1, 6, 12, 59, tzinfo=UTC)) is None


def test_quiet_hours_end_by_the_local_clock_across_a_daylight_saving_change() -> None:
    # Kyiv moves its clocks forward at 03:00 on 30 March 2025: the night is an hour shorter.
    night = QuietHours.parse("21:00-08:00", "Europe/Kyiv")
    evening = datetime(2025, 3, 29, 19, 0, tzinfo=UTC)  # 21:00 at UTC+2
    assert night.remaining(evening) == timedelta(hours=10)  # to 08:00 at UTC+3, 05:00 UTC


@pytest.mark.parametrize("window", ["21:00", "25:00-08:00", "21:00-21:00", "9-17"])
def test_a_quiet_window_that_is_not_one_is_refused(window: str) -> None:
    with pytest.raises(ValueError):
        QuietHours.parse(window, "Europe/Kyiv")


# Viber's billing and the budget


def viber_world(drive: str, ledger: InMemoryViberLedger, **terms: Any) -> World:
    world = world_of(drive, ledger=ledger, viber_terms=ViberTerms(**{"price": HRYVNIA_PRICE, **terms}))
    return world


def viber_customer(world: World, number: int, wrote_ago: timedelta | None = None) -> None:
    world.contacts.add(Contact(phone=f"+38050123{number:04d}", phone_verified=True, viber_user_id=f"v{number}=",
                               viber_last_message_at=None if wrote_ago is None else world.clock.now() - wrote_ago))


def submit_to(world: World, number: int) -> str:
    return submit(world, phone=f"+38050123{number:04d}")


def test_a_customer_who_wrote_within_the_session_gets_a_free_message(drive: str) -> None:
    ledger = InMemoryViberLedger()
    world = viber_world(drive, ledger, monthly_budget=0)  # no billable message allowed at all
    viber_customer(world, 1, wrote_ago=timedelta(hours=23))
    notification_id = submit_to(world, 1)
    assert one_pass(world) == ["Sent via Viber"]
    sent = stored(world, notification_id).attempts[-1]
    assert (sent.billing, sent.billable, sent.price) == (Billing.FREE_SESSION, False, None)
    assert ledger.used("2025-01") == (0, 0)  # a session's message never counts against the budget


def test_outside_the_session_a_message_is_billable_priced_and_counted(drive: str) -> None:
    ledger = InMemoryViberLedger()
    world = viber_world(drive, ledger, monthly_budget=5)
    viber_customer(world, 1, wrote_ago=timedelta(hours=25))
    notification_id = submit_to(world, 1)
    assert one_pass(world) == ["Sent via Viber"]
    sent = stored(world, notification_id).attempts[-1]
    assert (sent.billing, sent.billable, sent.price) == (Billing.BILLABLE, True, HRYVNIA_PRICE)
    assert ledger.used("2025-01") == (0, 1)


def test_the_free_quota_is_spent_before_the_budget(drive: str) -> None:
    ledger = InMemoryViberLedger()
    world = viber_world(drive, ledger, model=BillingModel.QUOTA, free_messages_per_month=2, monthly_budget=5)
    for number in range(3):
        viber_customer(world, number)
    ids = [submit_to(world, number) for number in range(3)]
    assert one_pass(world) == ["Sent via Viber"] * 3
    assert [stored(world, i).attempts[-1].billing for i in ids] == \
        [Billing.FREE_QUOTA, Billing.FREE_QUOTA, Billing.BILLABLE]
    assert ledger.used("2025-01") == (2, 1)


def test_the_budget_is_never_exceeded_and_the_notification_fails_with_its_own_result(drive: str) -> None:
    ledger = InMemoryViberLedger()
    telemetry = RecordingTelemetry()
    world = viber_world(drive, ledger, monthly_budget=2)
    world.engine._telemetry = telemetry  # type: ignore[union-attr]
    for number in range(3):
        viber_customer(world, number)
    ids = [submit_to(world, number) for number in range(3)]
    assert sorted(one_pass(world)) == ["Failed: Viber budget exhausted", "Sent via Viber", "Sent via Viber"]
    assert len(world.viber.sent) == 2 and ledger.used("2025-01") == (0, 2)
    refused = next(stored(world, i) for i in ids if stored(world, i).status is NotificationStatus.FAILED)
    assert [(a.outcome, a.error) for a in refused.attempts] == [(AttemptOutcome.SKIPPED, "viber budget exhausted")]
    assert telemetry.charges == [(Channel.VIBER, Billing.BILLABLE)] * 2


def test_a_new_month_brings_a_new_budget(drive: str) -> None:
    ledger = InMemoryViberLedger()
    world = viber_world(drive, ledger, monthly_budget=1)
    viber_customer(world, 1)
    ledger.reserve("2025-01", 0, 1)  # spent earlier this month
    world.clock.advance((datetime(2025, 2, 1, 0, 0, 1, tzinfo=UTC) - world.clock.now()).total_seconds())
    submit_to(world, 1)
    assert one_pass(world) == ["Sent via Viber"]
    assert ledger.used("2025-02") == (0, 1)


def test_a_refused_send_gives_its_message_back(drive: str) -> None:
    ledger = InMemoryViberLedger()
    world = viber_world(drive, ledger, monthly_budget=1)
    viber_customer(world, 1)
    world.viber.failure = PermanentFailure("viber 6: receiverNotSubscribed", recipient_state="unreachable")
    submit_to(world, 1)
    assert one_pass(world) == ["Failed: Delivery failed"]
    assert ledger.used("2025-01") == (0, 0)


def test_a_send_that_may_have_arrived_keeps_its_message_counted(drive: str) -> None:
    ledger = InMemoryViberLedger()
    world = viber_world(drive, ledger, monthly_budget=1)
    viber_customer(world, 1)
    world.viber.failure = TransientFailure("viber: timed out (ReadTimeout)", may_have_arrived=True)
    submit_to(world, 1)
    assert one_pass(world) == ["Queued for retry"]
    assert ledger.used("2025-01") == (0, 1)  # the budget errs on the side of never overspending
    world.viber.failure = TransientFailure("viber: connection failed (ConnectError)")
    world.clock.advance(60)
    ledger.give_back("2025-01", Billing.BILLABLE)
    assert one_pass(world) == ["Queued for retry"]
    assert ledger.used("2025-01") == (0, 0)  # never reached Viber: given back


def test_a_customer_on_telegram_costs_nothing_and_touches_no_ledger(drive: str) -> None:
    ledger = InMemoryViberLedger()
    world = viber_world(drive, ledger, monthly_budget=0)
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    notification_id = submit(world)
    assert one_pass(world) == ["Sent via Telegram"]
    assert stored(world, notification_id).attempts[-1].billing is None
    assert ledger.months == {}


def test_over_budget_viber_leaves_telegram_to_wait_for_its_flood(drive: str) -> None:
    ledger = InMemoryViberLedger()
    world = viber_world(drive, ledger, monthly_budget=0)
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.limiter.pause("telegram", 3600)
    notification_id = submit(world)
    assert one_pass(world) == ["Queued for retry"]  # handed to Viber, which the budget refused
    world.clock.advance(10)
    assert one_pass(world) == []
    notification = stored(world, notification_id)
    # Viber is done with for this notification: it now waits out Telegram's flood alone.
    assert notification.next_attempt_at >= world.clock.now() + timedelta(seconds=3000)


def test_viber_received_messages_open_the_session(drive: str) -> None:
    world = world_of(drive)
    from omnibot.services.linking import MessengerUser
    user = MessengerUser(Channel.VIBER, "v=", "Olena", None, "uk")
    world.linking.text(user)
    contact = world.contacts.find_by_viber_user("v=")
    assert contact is not None and contact.viber_last_message_at == world.clock.now()
    world.clock.advance(60)
    world.linking.text(user)
    contact = world.contacts.find_by_viber_user("v=")
    assert contact is not None and contact.viber_last_message_at == world.clock.now()


# Priorities


def test_bulk_sends_keep_to_their_share_of_the_rate_and_leave_the_rest_to_others(drive: str) -> None:
    world = world_of(drive)
    for number in range(3):
        world.contacts.add(Contact(phone=f"+38050123{number:04d}", phone_verified=True, telegram_chat_id=100 + number))
    bulk = [submit(world, phone=f"+38050123{n:04d}", priority=Priority.BULK) for n in range(2)]
    normal = submit(world, phone="+380501230002")
    # The normal one is claimed first; of the bulk ones, the share (one a second) lets one go now,
    # and the other waits its second in the sending thread.
    assert one_pass(world) == ["Sent via Telegram"] * 3
    assert stored(world, normal).status is NotificationStatus.SENT
    assert all(stored(world, i).status is NotificationStatus.SENT for i in bulk)
    assert world.slept == [1.0]
    assert world.limiter.try_acquire([Limit("telegram", 30, 30)]) == 0  # the bot's own bucket was not drained
