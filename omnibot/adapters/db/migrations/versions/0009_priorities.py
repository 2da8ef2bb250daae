"""Priorities: high before everything waiting, bulk only with what the others leave.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as table:
        # The rank: 0 high, 1 normal, 2 bulk. Every notification so far was normal.
        table.add_column(sa.Column("priority", sa.SmallInteger, nullable=False, server_default="1"))
    # A claim reads each priority's due notifications in order: one index range per priority, the
    # same few rows whatever the queue holds (a million bulk announcements included).
    op.create_index("ix_notifications_status_priority_next_attempt_at", "notifications",
                    ["status", "priority", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_status_priority_next_attempt_at", table_name="notifications")
    with op.batch_alter_table("notifications") as table:
        table.drop_column("priority")
