"""What a send costs: a price on each delivery attempt the messenger bills (Telegram's paid broadcasts).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as table:
        table.add_column(sa.Column("price_amount", sa.Numeric(12, 4), nullable=True))
        table.add_column(sa.Column("price_currency", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as table:
        table.drop_column("price_currency")
        table.drop_column("price_amount")
