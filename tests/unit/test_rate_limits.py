"""The buckets a send takes from: the messengers' limits with their margins (services/rate_limits.py)."""

from __future__ import annotations

import pytest

from omnibot.domain.model import Channel
from omnibot.services.rate_limits import CHAT_RATE_SHARE, PAID_BROADCAST_PRICE, MessengerRates, messenger_limits

RATES = MessengerRates(telegram_token="123:secret-token", viber_token="viber-secret", telegram_per_second=30,
                       telegram_paid_broadcast=False, telegram_paid_per_second=1000, telegram_chat_per_second=1,
                       viber_per_second=100, viber_user_messages_per_hour=10, bulk_share=0.8)


def test_a_telegram_send_takes_the_bots_bucket_and_its_chats_with_margins() -> None:
    limits = messenger_limits(RATES)
    bot, chat = limits.for_send(Channel.TELEGRAM, "42")
    assert (bot.rate, bot.burst) == (30, 3.0)  # a tenth of a second's sends
    assert chat.key == f"{bot.key}:chat:42" and (chat.rate, chat.burst) == (CHAT_RATE_SHARE, 1.0)
    assert "secret-token" not in bot.key and bot.key == limits.pause_key(Channel.TELEGRAM)
    assert limits.paid_above(Channel.TELEGRAM) is None


def test_a_viber_users_bucket_never_lets_more_than_the_hourly_count_into_an_hour() -> None:
    bot, user = messenger_limits(RATES).for_send(Channel.VIBER, "v=")
    assert (bot.rate, bot.burst) == (100, 10.0)
    assert user.burst + user.rate * 3600 == pytest.approx(10)


def test_bulk_books_a_share_of_the_bot_and_takes_the_bots_token_only_from_a_full_bucket() -> None:
    limits = messenger_limits(RATES)
    [share] = limits.bulk_share(Channel.TELEGRAM)
    assert share.rate == pytest.approx(24)
    assert limits.for_bulk_send is not None
    bot, chat = limits.for_bulk_send(Channel.TELEGRAM, "42")
    assert (bot.key, bot.burst) == (limits.pause_key(Channel.TELEGRAM), 1.0)


def test_paid_broadcasts_raise_the_bots_rate_and_price_what_exceeds_the_free_one() -> None:
    limits = messenger_limits(MessengerRates(**{**RATES.__dict__, "telegram_paid_broadcast": True}))
    bot, _ = limits.for_send(Channel.TELEGRAM, "42")
    assert bot.rate == 1000
    paid = limits.paid_above(Channel.TELEGRAM)
    assert paid is not None
    [free], price = paid
    assert free.rate == 30 and price == PAID_BROADCAST_PRICE
