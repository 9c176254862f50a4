"""flows: definitions and versions, runs, run history

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import mailwright.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
    )


def _big(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=nullable)


def _json(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
    )


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, mailwright.core.db.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "flows",
        _id(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("builtin", sa.String(length=50), nullable=True),
        sa.Column("group", sa.String(length=50), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        _at("activated_at", nullable=True),
        _at("last_scan_at", nullable=True),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
        sa.UniqueConstraint("name", name=op.f("uq_flows_name")),
    )
    op.create_table(
        "flow_versions",
        _id(),
        _big("flow_id"),
        sa.Column("version", sa.Integer(), nullable=False),
        _json("definition"),
        _at("created_at"),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_versions_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_versions")),
        sa.UniqueConstraint("flow_id", "version", name="uq_flow_versions_flow_version"),
    )
    op.create_table(
        "flow_runs",
        _id(),
        _big("flow_id"),
        sa.Column("version", sa.Integer(), nullable=False),
        _big("contact_id"),
        sa.Column("current_node", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        _at("wake_at", nullable=True),
        sa.Column("waiting_for", sa.String(length=200), nullable=True),
        _at("waiting_since", nullable=True),
        _big("trigger_event_id", nullable=True),
        _json("trigger"),
        sa.Column("entry_key", sa.String(length=100), nullable=False),
        _at("started_at"),
        _at("ended_at", nullable=True),
        sa.Column("exit_reason", sa.String(length=300), nullable=True),
        sa.Column("converted", sa.Boolean(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        _at("updated_at"),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_flow_runs_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_runs_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_runs")),
        sa.UniqueConstraint("flow_id", "contact_id", "entry_key", name="uq_flow_runs_flow_contact_entry"),
    )
    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.create_index("ix_flow_runs_status_wake_at", ["status", "wake_at"], unique=False)
        batch_op.create_index("ix_flow_runs_contact_status", ["contact_id", "status"], unique=False)
        batch_op.create_index("ix_flow_runs_flow_status", ["flow_id", "status"], unique=False)

    op.create_table(
        "flow_run_history",
        _id(),
        _big("run_id"),
        sa.Column("node_id", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        _at("at"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["flow_runs.id"],
            name=op.f("fk_flow_run_history_run_id_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_run_history")),
    )
    with op.batch_alter_table("flow_run_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow_run_history_run_id"), ["run_id"], unique=False)

    op.create_table(
        "flow_marks",
        _big("flow_id"),
        _big("contact_id"),
        sa.Column("value", sa.String(length=100), nullable=True),
        _at("updated_at"),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_flow_marks_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_marks_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("flow_id", "contact_id", name=op.f("pk_flow_marks")),
    )


def downgrade() -> None:
    op.drop_table("flow_marks")
    with op.batch_alter_table("flow_run_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_run_history_run_id"))
    op.drop_table("flow_run_history")
    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_flow_runs_flow_status")
        batch_op.drop_index("ix_flow_runs_contact_status")
        batch_op.drop_index("ix_flow_runs_status_wake_at")
    op.drop_table("flow_runs")
    op.drop_table("flow_versions")
    op.drop_table("flows")
