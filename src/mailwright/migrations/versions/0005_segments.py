"""segments: definitions, materialized membership and its history

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import mailwright.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("definition", _JSON, nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("builtin", sa.String(length=64), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("parameters", _JSON, nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("builtin", name=op.f("uq_segments_builtin")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    op.create_table(
        "segment_memberships",
        sa.Column("segment_id", _ID, nullable=False),
        sa.Column("contact_id", _ID, autoincrement=False, nullable=False),
        sa.Column("entered_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_segment_memberships_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_memberships_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_id", "contact_id", name=op.f("pk_segment_memberships")),
    )
    with op.batch_alter_table("segment_memberships", schema=None) as batch_op:
        batch_op.create_index("ix_segment_memberships_contact_id", ["contact_id"], unique=False)

    op.create_table(
        "segment_membership_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("segment_id", _ID, nullable=False),
        sa.Column("contact_id", _ID, nullable=False),
        sa.Column("entered_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("exited_at", mailwright.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_segment_membership_history_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_membership_history_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_membership_history")),
    )
    with op.batch_alter_table("segment_membership_history", schema=None) as batch_op:
        batch_op.create_index("ix_segment_membership_history_contact_id", ["contact_id"], unique=False)
        batch_op.create_index(
            "ix_segment_membership_history_segment_contact", ["segment_id", "contact_id"], unique=False
        )

    # Segment conditions count a contact's events of some names from this index alone.
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_name_contact_occurred", ["name", "contact_id", "occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_name_contact_occurred")
    with op.batch_alter_table("segment_membership_history", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_membership_history_segment_contact")
        batch_op.drop_index("ix_segment_membership_history_contact_id")
    op.drop_table("segment_membership_history")
    with op.batch_alter_table("segment_memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_memberships_contact_id")
    op.drop_table("segment_memberships")
    op.drop_table("segments")
