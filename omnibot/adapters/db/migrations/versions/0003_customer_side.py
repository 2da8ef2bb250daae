"""Customer side: verified phones, link tokens, and the log of processed webhook updates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("phone_verified", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("telegram_linked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("viber_linked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "link_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("order_id", sa.String(128), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by_contact_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["used_by_contact_id"], ["contacts.id"], ondelete="SET NULL",
                                name=op.f("fk_link_tokens_used_by_contact_id_contacts")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_link_tokens")),
    )
    op.create_index(op.f("ix_link_tokens_phone"), "link_tokens", ["phone"])
    op.create_index(op.f("ix_link_tokens_used_by_contact_id"), "link_tokens", ["used_by_contact_id"])
    op.create_table(
        "processed_updates",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("update_key", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "update_key", name=op.f("pk_processed_updates")),
    )
    op.create_index(op.f("ix_processed_updates_created_at"), "processed_updates", ["created_at"])


def downgrade() -> None:
    op.drop_table("processed_updates")
    op.drop_table("link_tokens")
    with op.batch_alter_table("contacts") as batch:
        for column in ("viber_linked_at", "telegram_linked_at", "phone_verified"):
            batch.drop_column(column)
