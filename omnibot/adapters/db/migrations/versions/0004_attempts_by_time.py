"""Delivery attempts by time: the Viber-this-month metric and the dashboard's counts read a month of them.

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


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_attempts_created_at"), table_name="delivery_attempts")
