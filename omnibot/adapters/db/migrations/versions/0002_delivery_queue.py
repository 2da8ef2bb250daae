"""The delivery queue: leases, retries, idempotency keys, and status callbacks to the shop.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("channels", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("callback_url", sa.String(2048), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("idempotency_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("request_fingerprint", sa.String(64), nullable=True))
        batch.add_column(sa.Column("request_id", sa.String(64), nullable=True))
        batch.create_unique_constraint(op.f("uq_notifications_idempotency_key"), ["idempotency_key"])
        batch.create_index(op.f("ix_notifications_status_next_attempt_at"), ["status", "next_attempt_at"])
        batch.create_index(op.f("ix_notifications_status_lease_until"), ["status", "lease_until"])
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.create_index(op.f("ix_delivery_attempts_channel_provider_message_id"),
                           ["channel", "provider_message_id"])
    op.create_table(
        "status_callbacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.String(36), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"], ondelete="CASCADE",
                                name=op.f("fk_status_callbacks_notification_id_notifications")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_callbacks")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_status_callbacks_notification_id"), "status_callbacks", ["notification_id"])
    op.create_index(op.f("ix_status_callbacks_next_attempt_at"), "status_callbacks", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("status_callbacks")
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_index(op.f("ix_delivery_attempts_channel_provider_message_id"))
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index(op.f("ix_notifications_status_lease_until"))
        batch.drop_index(op.f("ix_notifications_status_next_attempt_at"))
        batch.drop_constraint(op.f("uq_notifications_idempotency_key"), type_="unique")
        for column in ("request_id", "request_fingerprint", "idempotency_key", "lease_until",
                       "lease_owner", "next_attempt_at", "callback_url", "channels", "text"):
            batch.drop_column(column)
