"""campaigns: campaigns, variants, recipients

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 20:30:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import mailwright.core.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _id() -> sa.types.TypeEngine[Any]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("template_name", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=50), nullable=True),
        sa.Column("segment_ids", _json(), nullable=False),
        sa.Column("exclusion_segment_ids", _json(), nullable=False),
        sa.Column("schedule_kind", sa.String(length=16), nullable=False),
        sa.Column("scheduled_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("local_time", sa.String(length=5), nullable=True),
        sa.Column("throttle_per_hour", sa.Integer(), nullable=True),
        sa.Column("variants", _json(), nullable=False),
        sa.Column("test_share", sa.Float(), nullable=True),
        sa.Column("test_wait_hours", sa.Float(), nullable=True),
        sa.Column("winner_metric", sa.String(length=32), nullable=True),
        sa.Column("winner", sa.String(length=20), nullable=True),
        sa.Column("decision", _json(), nullable=True),
        sa.Column("decide_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("started_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("snapshot", _json(), nullable=False),
        sa.Column("created_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_campaigns_status_scheduled_at", ["status", "scheduled_at"], unique=False)

    op.create_table(
        "campaign_recipients",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", _id(), nullable=False),
        sa.Column("contact_id", _id(), nullable=False),
        sa.Column("variant", sa.String(length=20), nullable=True),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("send_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("outbox_public_id", sa.String(length=32), nullable=True),
        sa.Column("queued_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_campaign_recipients_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint("campaign_id", "contact_id", name="uq_campaign_recipients_campaign_contact"),
    )
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaign_recipients_campaign_status", ["campaign_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_recipients_campaign_status")
    op.drop_table("campaign_recipients")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_status_scheduled_at")
    op.drop_table("campaigns")
