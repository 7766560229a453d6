"""Job runs as rows (one per job and scheduled fire time) and maintenance windows (Art. 10(8), 14).

Revision ID: 0011_job_runs_maintenance
Revises: 0010_termination_settlement
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_job_runs_maintenance"
down_revision: str | None = "0010_termination_settlement"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("scheduled_for", _TZ, nullable=False),
        sa.Column("started_at", _TZ, nullable=False),
        sa.Column("finished_at", _TZ, nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("runner", sa.String(length=128), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("period_s", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "scheduled_for", name="uq_job_runs_job_scheduled_for"),
    )
    op.create_index(op.f("ix_job_runs_job"), "job_runs", ["job"], unique=False)
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=True),
        sa.Column("starts_at", _TZ, nullable=False),
        sa.Column("ends_at", _TZ, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("notified_at", _TZ, nullable=True),
        sa.Column("started_at", _TZ, nullable=True),
        sa.Column("completed_at", _TZ, nullable=True),
        sa.Column("cancelled_at", _TZ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_maintenance_windows_state"), "maintenance_windows", ["state"], unique=False)
    op.create_index(
        op.f("ix_maintenance_windows_starts_at"), "maintenance_windows", ["starts_at"], unique=False
    )
    op.create_table(
        "maintenance_window_hosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["window_id"], ["maintenance_windows.id"]),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("window_id", "host_id"),
    )
    for column in ("window_id", "host_id"):
        op.create_index(
            op.f(f"ix_maintenance_window_hosts_{column}"), "maintenance_window_hosts", [column], unique=False
        )
    op.create_table(
        "maintenance_server_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=True),
        sa.Column("saved_at", _TZ, nullable=True),
        sa.Column("restored_at", _TZ, nullable=True),
        sa.ForeignKeyConstraint(["window_id"], ["maintenance_windows.id"]),
        sa.ForeignKeyConstraint(["server_id"], ["servers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("window_id", "server_id"),
    )
    op.create_index(
        op.f("ix_maintenance_server_records_window_id"),
        "maintenance_server_records",
        ["window_id"],
        unique=False,
    )
    with op.batch_alter_table("servers") as batch:
        batch.add_column(
            sa.Column("suspended_for_maintenance", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("suspended_for_maintenance")
    op.drop_table("maintenance_server_records")
    op.drop_table("maintenance_window_hosts")
    op.drop_table("maintenance_windows")
    op.drop_table("job_runs")
