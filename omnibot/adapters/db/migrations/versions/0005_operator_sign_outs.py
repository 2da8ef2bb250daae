"""Dashboard sign-outs: signing out voids every session of the operator issued before, in every process.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_sign_outs",
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("signed_out_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("operator", name=op.f("pk_operator_sign_outs")),
    )


def downgrade() -> None:
    op.drop_table("operator_sign_outs")
