"""A messenger gateway that records messages and fails on demand."""

from __future__ import annotations

from dataclasses import dataclass, field

from omnibot.domain.model import Channel
from omnibot.ports import OutgoingMessage, SendReceipt


@dataclass
class FakeGateway:
    channel: Channel
    sent: list[tuple[str, OutgoingMessage]] = field(default_factory=list)
    # By address, or for every address; anything else than a DeliveryFailure stands for a bug.
    failures: dict[str, Exception] = field(default_factory=dict)
    failure: Exception | None = None

    def send(self, address: str, message: OutgoingMessage) -> SendReceipt:
        failure = self.failures.get(address) or self.failure
        if failure is not None:
            raise failure
        self.sent.append((address, message))
        return SendReceipt(provider_message_id=f"{self.channel}-{len(self.sent)}")

    async def send_async(self, address: str, message: OutgoingMessage) -> SendReceipt:
        return self.send(address, message)
