"""Which messenger to try, in which order: the cheapest that can reach the customer first."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from omnibot.domain.model import Channel, ChannelState, Contact

# Telegram is free and unlimited; Viber costs once its monthly free quota is spent.
DEFAULT_ORDER: tuple[Channel, ...] = (Channel.TELEGRAM, Channel.VIBER)


@dataclass(frozen=True)
class Step:
    """One channel in a delivery plan; ``skip_reason`` set means do not send, say why."""

    channel: Channel
    address: str
    skip_reason: str | None = None


def plan(
    contact: Contact,
    available: Iterable[Channel],
    order: Iterable[Channel] = DEFAULT_ORDER,
) -> Iterator[Step]:
    """The customer's linked channels in preference order, those that cannot be used marked."""
    enabled = set(available)
    for channel in order:
        address = contact.address(channel)
        if address is None:
            continue
        state = contact.state(channel)
        if channel not in enabled:
            yield Step(channel, address, f"{channel} is not configured on this omnibot")
        elif state is not ChannelState.ACTIVE:
            yield Step(channel, address, f"{channel} account is {state}")
        else:
            yield Step(channel, address)
