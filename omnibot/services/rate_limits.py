"""Which token buckets a send takes from: the messengers' limits, each with a margin under the
messenger's own, and the bulk share. Policy only: the limiter that keeps the buckets is a port."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from omnibot.domain.model import Channel, Price
from omnibot.ports import Limit

BOT_BURST_SECONDS = 0.1
# Telegram's price of a paid broadcast's message above the free rate (Bot API 7.11).
PAID_BROADCAST_PRICE = Price(Decimal("0.1"), "XTR")
CHAT_RATE_SHARE = 0.9


@dataclass(frozen=True)
class RateLimits:
    """Which token buckets a send takes from, and which bucket a 429 pauses. ``paid_above``: for a
    channel whose sends above a free rate are billed, that free rate's bucket and the price of a
    send that finds it empty. ``bulk_share``: the bucket a bulk send books its turn in first;
    ``for_bulk_send``: the buckets of a bulk send, where it yields to the others (default ``for_send``)."""

    for_send: Callable[[Channel, str], Sequence[Limit]]
    pause_key: Callable[[Channel], str]
    paid_above: Callable[[Channel], tuple[Sequence[Limit], Price] | None] = lambda _channel: None
    bulk_share: Callable[[Channel], Sequence[Limit]] = lambda _channel: ()
    for_bulk_send: Callable[[Channel, str], Sequence[Limit]] | None = None


@dataclass(frozen=True)
class MessengerRates:
    """The messengers' limits as configured (README, "Rate limits")."""

    telegram_token: str | None
    viber_token: str | None
    telegram_per_second: float
    telegram_paid_broadcast: bool
    telegram_paid_per_second: float
    telegram_chat_per_second: float
    viber_per_second: float
    viber_user_messages_per_hour: float
    bulk_share: float


def messenger_limits(rates: MessengerRates) -> RateLimits:
    """Bucket keys carry a hash of the bot token: the limits are the bot's, and tokens stay secret.

    Our limiter takes a token some milliseconds before the request reaches the messenger, and that
    delay varies from send to send; two sends can arrive closer together than they left. So the
    buckets keep a margin under the messenger's own, at no cost to the steady rate of a bot:
    - a bot's bucket holds a tenth of a second's sends, not a whole second's: the messenger's
      bucket (about a second deep) then stays nearly full, 0.9 s of slack for that jitter;
    - a chat's bucket holds one send, so it gets its margin from the rate: 10% under the limit
      (1.11 s between two messages to one chat at Telegram's 1/s);
    - Viber counts a user's messages in the last hour: a bucket that may hold half the hourly
      count and refills the other half over the hour never lets more than the count into an hour.
    """
    bots = {Channel.TELEGRAM: _token_key("tg", rates.telegram_token),
            Channel.VIBER: _token_key("vb", rates.viber_token)}

    telegram_rate = rates.telegram_paid_per_second if rates.telegram_paid_broadcast else rates.telegram_per_second

    def for_send(channel: Channel, address: str) -> Sequence[Limit]:
        bot = bots[channel]
        if channel is Channel.TELEGRAM:
            per_chat = rates.telegram_chat_per_second * CHAT_RATE_SHARE
            return (Limit(bot, telegram_rate, _bot_burst(telegram_rate)),
                    Limit(f"{bot}:chat:{address}", per_chat, 1.0))
        half_hourly = rates.viber_user_messages_per_hour / 2
        return (Limit(bot, rates.viber_per_second, _bot_burst(rates.viber_per_second)),
                Limit(f"{bot}:user:{address}", half_hourly / 3600.0, max(1.0, half_hourly)))

    # Telegram bills a paid broadcast's messages above the free rate: a send that finds no token in
    # a bucket of that rate is one of them (shared through Redis, so every worker counts alike).
    free_share = (Limit(f"{bots[Channel.TELEGRAM]}:free", rates.telegram_per_second,
                        max(1.0, rates.telegram_per_second)),)

    def paid_above(channel: Channel) -> tuple[Sequence[Limit], Price] | None:
        if channel is Channel.TELEGRAM and rates.telegram_paid_broadcast:
            return free_share, PAID_BROADCAST_PRICE
        return None

    bot_rates = {Channel.TELEGRAM: telegram_rate, Channel.VIBER: rates.viber_per_second}

    def bulk_share(channel: Channel) -> Sequence[Limit]:
        rate = bot_rates[channel] * rates.bulk_share
        return (Limit(f"{bots[channel]}:bulk", rate, _bot_burst(rate)),)

    def for_bulk_send(channel: Channel, address: str) -> Sequence[Limit]:
        # The bot's own bucket, the same key, with a burst of one: a bulk send takes a token only
        # from a full bucket, so the rest of the burst is always there for normal and high sends,
        # and bulk gets what they leave, never more than it.
        bot, *others = for_send(channel, address)
        return (Limit(bot.key, bot.rate, 1.0), *others)

    return RateLimits(for_send=for_send, pause_key=lambda channel: bots[channel], paid_above=paid_above,
                      bulk_share=bulk_share, for_bulk_send=for_bulk_send)


def _bot_burst(per_second: float) -> float:
    return max(1.0, per_second * BOT_BURST_SECONDS)


def _token_key(prefix: str, token: str | None) -> str:
    return f"{prefix}:{hashlib.sha256((token or '').encode()).hexdigest()[:16]}"


