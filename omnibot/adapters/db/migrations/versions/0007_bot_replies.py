"""Replies off the request path: the reply kept with a handled update, and the reply outbox.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_updates") as table:
        table.add_column(sa.Column("reply", sa.Text, nullable=True))
    op.create_table(
        "bot_replies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_bot_replies_next_attempt_at", "bot_replies", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_bot_replies_next_attempt_at", table_name="bot_replies")
    op.drop_table("bot_replies")
    with op.batch_alter_table("processed_updates") as table:
        table.drop_column("reply")
