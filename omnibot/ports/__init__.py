"""The interfaces the services need from the outside world, one module a port with the data it
speaks. Adapters implement them; tests fake them. Everything is importable from here.
"""

from omnibot.ports.callbacks import CallbackJob, CallbackOutbox, CallbackTransport
from omnibot.ports.clock import Clock
from omnibot.ports.customers import ContactRepository, LinkTokenRepository
from omnibot.ports.dashboard import DashboardQueries
from omnibot.ports.inbound import InboundStore, InboundUnit, ReplyJob, ReplyOutbox, UpdateLog
from omnibot.ports.messengers import BotReply, MessengerGateway, OutgoingMessage, SendReceipt, WebhookEndpoint
from omnibot.ports.notifications import DeliveryQueue, ReceiptLog
from omnibot.ports.operators import OperatorSignOuts
from omnibot.ports.rate_limits import Limit, RateLimiter
from omnibot.ports.telemetry import NoTelemetry, Telemetry
from omnibot.ports.viber_ledger import ViberLedger
from omnibot.ports.wakeup import Wakeup

__all__ = [
    "BotReply",
    "CallbackJob",
    "CallbackOutbox",
    "CallbackTransport",
    "Clock",
    "ContactRepository",
    "DashboardQueries",
    "DeliveryQueue",
    "InboundStore",
    "InboundUnit",
    "Limit",
    "LinkTokenRepository",
    "MessengerGateway",
    "NoTelemetry",
    "OperatorSignOuts",
    "OutgoingMessage",
    "RateLimiter",
    "ReceiptLog",
    "ReplyJob",
    "ReplyOutbox",
    "SendReceipt",
    "Telemetry",
    "UpdateLog",
    "ViberLedger",
    "Wakeup",
    "WebhookEndpoint",
]
