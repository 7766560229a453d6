"""Serial console: single-use tickets (only their SHA-256 kept) and the sessions they opened.

Revision ID: 0016_console
Revises: 0011_job_runs_maintenance
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_console"
down_revision: str | None = "0014_terms_workflows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_tickets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("server_id", sa.String(length=32), sa.ForeignKey("servers.id"), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("token_id", sa.Integer(), sa.ForeignKey("api_tokens.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_console_tickets_server_id", "console_tickets", ["server_id"])
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("server_id", sa.String(length=32), sa.ForeignKey("servers.id"), nullable=False),
        sa.Column("host_id", sa.Integer(), sa.ForeignKey("hosts.id"), nullable=False),
        sa.Column(
            "ticket_id", sa.Integer(), sa.ForeignKey("console_tickets.id"), nullable=False, unique=True
        ),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("relay_url", sa.String(length=512), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attach_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=256), nullable=True),
        sa.Column("bytes_to_client", sa.BigInteger(), nullable=False),
        sa.Column("bytes_from_client", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_console_sessions_server_id", "console_sessions", ["server_id"])
    op.create_index("ix_console_sessions_host_id", "console_sessions", ["host_id"])
    op.create_index("ix_console_sessions_state", "console_sessions", ["state"])


def downgrade() -> None:
    op.drop_table("console_sessions")
    op.drop_table("console_tickets")
