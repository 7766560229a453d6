"""The terms' remaining workflows: firewall rule sets, spam complaints, fee increases, address agreements,
successions, and the bandwidth cap of a `bandwidth` block.

Revision ID: 0014_terms_workflows
Revises: 0011_job_runs_maintenance
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_terms_workflows"
down_revision: str | None = "0011_job_runs_maintenance"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("blocks") as batch:
        batch.add_column(sa.Column("bandwidth_kbytes", sa.Integer(), nullable=True))
    op.create_table(
        "firewall_rule_sets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contract_id", sa.Integer(), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("add_on_id", sa.Integer(), sa.ForeignKey("add_ons.id"), nullable=True),
        sa.Column("inbound_default", sa.String(8), nullable=False),
        sa.Column("outbound_default", sa.String(8), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("removed_at", _TS, nullable=True),
        sa.UniqueConstraint("contract_id"),
    )
    op.create_table(
        "firewall_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rule_set_id", sa.Integer(), sa.ForeignKey("firewall_rule_sets.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("protocol", sa.String(8), nullable=False),
        sa.Column("port_from", sa.Integer(), nullable=True),
        sa.Column("port_to", sa.Integer(), nullable=True),
        sa.Column("prefix", sa.String(43), nullable=True),
    )
    op.create_index("ix_firewall_rules_rule_set_id", "firewall_rules", ["rule_set_id"])
    op.create_table(
        "spam_complaints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("complainant", sa.String(200), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("evidence", sa.String(4000), nullable=False),
        sa.Column("address", sa.String(45), nullable=True),
        sa.Column("server_id", sa.String(64), nullable=True),
        sa.Column("contract_id", sa.Integer(), sa.ForeignKey("contracts.id"), nullable=True),
        sa.Column("answer_due_on", sa.Date(), nullable=False),
        sa.Column("fix_report_due_on", sa.Date(), nullable=True),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("answer", sa.String(2000), nullable=True),
        sa.Column("customer_asked_at", _TS, nullable=True),
        sa.Column("fix_reported_at", _TS, nullable=True),
        sa.Column("fix_report", sa.String(2000), nullable=True),
        sa.Column("block_id", sa.Integer(), sa.ForeignKey("blocks.id"), nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
    op.create_index("ix_spam_complaints_contract_id", "spam_complaints", ["contract_id"])
    op.create_table(
        "fee_increases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contract_id", sa.Integer(), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("old_monthly_fee", sa.BigInteger(), nullable=False),
        sa.Column("new_monthly_fee", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(400), nullable=False),
        sa.Column("proposed_at", _TS, nullable=False),
        sa.Column("proposed_by", sa.String(128), nullable=False),
        sa.Column("answer", sa.String(8), nullable=True),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("answered_by", sa.String(128), nullable=True),
    )
    op.create_index("ix_fee_increases_contract_id", "fee_increases", ["contract_id"])
    op.create_table(
        "address_agreements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contract_id", sa.Integer(), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("extra_addresses", sa.Integer(), nullable=False),
        sa.Column("agreed_by", sa.String(200), nullable=False),
        sa.Column("agreed_at", _TS, nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
    )
    op.create_index("ix_address_agreements_contract_id", "address_agreements", ["contract_id"])
    op.create_table(
        "successions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contract_id", sa.Integer(), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("from_customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("to_customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_on", sa.Date(), nullable=False),
        sa.Column("filed_at", _TS, nullable=False),
        sa.Column("filed_by", sa.String(128), nullable=False),
    )
    op.create_index("ix_successions_contract_id", "successions", ["contract_id"])


def downgrade() -> None:
    for table in ("successions", "address_agreements", "fee_increases", "spam_complaints"):
        op.drop_table(table)
    op.drop_table("firewall_rules")
    op.drop_table("firewall_rule_sets")
    with op.batch_alter_table("blocks") as batch:
        batch.drop_column("bandwidth_kbytes")
