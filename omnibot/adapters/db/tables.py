"""The database schema, in SQLAlchemy Core: what migrations build and what repositories query."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

# Explicit names keep constraints identical on SQLite and PostgreSQL, so a migration can drop or
# alter one by name and autogenerate compares like with like.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utc(value: datetime) -> datetime:
    """``value`` as UTC; a naive datetime is refused, since its zone would be a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: omnibot stores timezone-aware times")
    return value.astimezone(UTC)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware timestamp that always comes back as UTC.

    PostgreSQL keeps the instant and answers in the session's zone; SQLite keeps only the text,
    so times are written as UTC and read back with UTC attached.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # SQLite would write the wall-clock time and silently drop the offset: convert first.
        return utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


PHONE = sa.String(16)  # E.164: "+" and at most 15 digits
NAME = sa.String(255)
STATE = sa.String(16)  # ChannelState, NotificationStatus, AttemptOutcome and Channel values


def _timestamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    ]


contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("phone", PHONE, nullable=True, unique=True),
    sa.Column("first_name", NAME, nullable=True),
    sa.Column("last_name", NAME, nullable=True),
    sa.Column("language", sa.String(16), nullable=True),
    sa.Column("telegram_chat_id", sa.BigInteger, nullable=True, unique=True),
    sa.Column("telegram_state", STATE, nullable=False, server_default="active"),
    sa.Column("viber_user_id", sa.String(64), nullable=True, unique=True),
    sa.Column("viber_state", STATE, nullable=False, server_default="active"),
    *_timestamps(),
    # Customer side (migration 0003).
    sa.Column("phone_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("telegram_linked_at", UtcDateTime(), nullable=True),
    sa.Column("viber_linked_at", UtcDateTime(), nullable=True),
    # When the customer last wrote to the bot on Viber: their free session (migration 0008).
    sa.Column("viber_last_message_at", UtcDateTime(), nullable=True),
    # Never reuse the id of a merged-away contact, as PostgreSQL's sequence never does.
    sqlite_autoincrement=True,
)

order_links = sa.Table(
    "order_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(128), nullable=False, index=True),
    sa.Column(
        "contact_id",
        sa.Integer,
        sa.ForeignKey("contacts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,  # PostgreSQL does not index foreign keys; merges look links up by contact
    ),
    sa.Column("channel", STATE, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("order_id", "contact_id", "channel"),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("phone", PHONE, nullable=True, index=True),
    sa.Column("order_id", sa.String(128), nullable=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("items", sa.JSON, nullable=False),
    sa.Column("status", STATE, nullable=False),
    sa.Column("channel", STATE, nullable=True),
    sa.Column(
        "contact_id",
        sa.Integer,
        sa.ForeignKey("contacts.id", ondelete="SET NULL"),
        nullable=True,
        index=True,  # deleting a contact (a merge) must find its notifications without a scan
    ),
    sa.Column("result", sa.Text, nullable=True),
    *_timestamps(),
    # The delivery queue (migration 0002).
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("channels", sa.JSON, nullable=True),
    sa.Column("callback_url", sa.String(2048), nullable=True),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UtcDateTime(), nullable=True),
    sa.Column("idempotency_key", sa.String(255), nullable=True, unique=True),
    sa.Column("request_fingerprint", sa.String(64), nullable=True),
    sa.Column("request_id", sa.String(64), nullable=True),
    # Past it nothing is sent (migration 0008).
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    # The rank of its Priority, 0 high to 2 bulk (migration 0009), claimed in that order.
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="1"),
    sa.Index(None, "status", "created_at"),
    sa.Index(None, "status", "priority", "next_attempt_at"),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "status", "lease_until"),
    # What operators read (migration 0004): the dashboard's list, newest first; a notification's resends.
    sa.Index(None, "created_at"),
    sa.Index(None, "request_id"),
)

def _belongs_to_notification() -> sa.Column[str]:
    """The owning notification; its rows go with it."""
    return sa.Column("notification_id", sa.String(36), sa.ForeignKey("notifications.id", ondelete="CASCADE"),
                     nullable=False, index=True)


delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _belongs_to_notification(),
    sa.Column("channel", STATE, nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("provider_message_id", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # What the messenger bills for this send (a paid broadcast's Stars); NULL when it is free.
    sa.Column("price_amount", sa.Numeric(12, 4), nullable=True),
    sa.Column("price_currency", sa.String(8), nullable=True),
    # How a Viber send was billed: free_session, free_quota or billable (migration 0008).
    sa.Column("billing", STATE, nullable=True),
    sa.Index(None, "channel", "provider_message_id"),  # Viber's delivered/seen callbacks
    sa.Index(None, "created_at"),  # messages sent this month: the Viber metric, the dashboard
    sqlite_autoincrement=True,
)

def _outbox_columns() -> list[sa.Column[Any]]:
    """What an outbox row carries besides its payload: the workers claim it by ``next_attempt_at``
    (None: given up, kept for operators)."""
    return [sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("next_attempt_at", UtcDateTime(), nullable=True, index=True),
            sa.Column("last_error", sa.Text, nullable=True),
            sa.Column("created_at", UtcDateTime(), nullable=False)]


status_callbacks = sa.Table(
    "status_callbacks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _belongs_to_notification(),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    *_outbox_columns(),
    sqlite_autoincrement=True,
)


link_tokens = sa.Table(
    "link_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("phone", PHONE, nullable=False, index=True),
    sa.Column("order_id", sa.String(128), nullable=True),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("used_at", UtcDateTime(), nullable=True),
    sa.Column("used_by_contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="SET NULL"),
              nullable=True, index=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

processed_updates = sa.Table(
    "processed_updates",
    metadata,
    sa.Column("channel", STATE, primary_key=True),
    sa.Column("update_key", sa.String(64), primary_key=True),
    sa.Column("created_at", UtcDateTime(), nullable=False, index=True),
    # The reply carried in the webhook's answer (migration 0007), to answer a redelivery alike.
    sa.Column("reply", sa.Text, nullable=True),
)

# Bot replies that cannot ride in a webhook's answer (migration 0007), sent by the workers.
bot_replies = sa.Table(
    "bot_replies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("channel", STATE, nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    *_outbox_columns(),
    sqlite_autoincrement=True,
)

# The month's Viber messages taken from the free quota and the budget (migration 0008): a send
# reserves its message here before it is made, so workers racing for the last one cannot both win.
viber_ledger = sa.Table(
    "viber_ledger",
    metadata,
    sa.Column("month", sa.String(7), primary_key=True),  # 2026-12, UTC
    sa.Column("free_quota_used", sa.Integer, nullable=False, server_default="0"),
    sa.Column("billable_used", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# Dashboard sign-outs (migration 0005): a session carries the generation it was issued at, and a
# sign-out moves the generation on, voiding every earlier session in every process.
operator_sign_outs = sa.Table(
    "operator_sign_outs",
    metadata,
    sa.Column("operator", sa.String(64), primary_key=True),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("signed_out_at", UtcDateTime(), nullable=False),
)
