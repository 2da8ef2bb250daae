"""Indexes for what operators read: attempts and notifications by time, resends by their origin.

The Viber-this-month metric and the dashboard's counts read a month of attempts; the dashboard's
list pages notifications newest first and finds a notification's resends by request id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_delivery_attempts_created_at"), "delivery_attempts", ["created_at"])
    op.create_index(op.f("ix_notifications_created_at"), "notifications", ["created_at"])
    op.create_index(op.f("ix_notifications_request_id"), "notifications", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notifications_request_id"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_created_at"), table_name="notifications")
    op.drop_index(op.f("ix_delivery_attempts_created_at"), table_name="delivery_attempts")
