"""tracking: consent evidence, preferences, bounce records

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import mailwright.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("contact_id", _ID, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("form", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("message_public_id", sa.String(length=32), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_consent_records_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_records_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "bounce_records",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("report_key", sa.String(length=200), nullable=False),
        sa.Column("contact_id", _ID, nullable=True),
        sa.Column("message_public_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("diagnostic", sa.Text(), nullable=True),
        sa.Column("received_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_bounce_records_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_records")),
        sa.UniqueConstraint("report_key", name=op.f("uq_bounce_records_report_key")),
    )
    with op.batch_alter_table("bounce_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bounce_records_contact_kind_received", ["contact_id", "kind", "received_at"], unique=False
        )
        batch_op.create_index("ix_bounce_records_received_at", ["received_at"], unique=False)

    op.create_table(
        "signup_attempts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("attempted_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signup_attempts")),
    )
    with op.batch_alter_table("signup_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_signup_attempts_ip_attempted_at", ["ip", "attempted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signup_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_signup_attempts_ip_attempted_at")
    op.drop_table("signup_attempts")
    with op.batch_alter_table("bounce_records", schema=None) as batch_op:
        batch_op.drop_index("ix_bounce_records_received_at")
        batch_op.drop_index("ix_bounce_records_contact_kind_received")
    op.drop_table("bounce_records")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_records_contact_id"))
    op.drop_table("consent_records")
