"""analytics: order attributions

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailwright.core.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_attributions",
        sa.Column(
            "order_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("placed_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("touch", sa.String(length=8), nullable=False),
        sa.Column("message_public_id", sa.String(length=32), nullable=True),
        sa.Column("source_kind", sa.String(length=20), nullable=True),
        sa.Column("source_id", sa.String(length=100), nullable=True),
        sa.Column("template_name", sa.String(length=100), nullable=True),
        sa.Column("touched_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("attributed_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_attributions_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_attributions")),
    )
    with op.batch_alter_table("order_attributions", schema=None) as batch_op:
        batch_op.create_index("ix_order_attributions_message", ["message_public_id"], unique=False)
        batch_op.create_index("ix_order_attributions_placed_at", ["placed_at"], unique=False)
        batch_op.create_index("ix_order_attributions_source", ["source_kind", "source_id"], unique=False)


def downgrade() -> None:
    op.drop_table("order_attributions")
