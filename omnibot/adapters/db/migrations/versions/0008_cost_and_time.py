"""Cost and time: a notification's deadline, how each Viber send was billed, when a Viber customer
last wrote (their free session), and the month's Viber ledger the budget is enforced on.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as table:
        table.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("delivery_attempts") as table:
        table.add_column(sa.Column("billing", sa.String(16), nullable=True))
    with op.batch_alter_table("contacts") as table:
        table.add_column(sa.Column("viber_last_message_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "viber_ledger",
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("free_quota_used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("billable_used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name="pk_viber_ledger"),
    )


def downgrade() -> None:
    op.drop_table("viber_ledger")
    with op.batch_alter_table("contacts") as table:
        table.drop_column("viber_last_message_at")
    with op.batch_alter_table("delivery_attempts") as table:
        table.drop_column("billing")
    with op.batch_alter_table("notifications") as table:
        table.drop_column("expires_at")
