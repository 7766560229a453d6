"""Two people for an irreversible termination, withdrawal, and the wipe order after the notice (Art. 20, 21).

`proposed_by_token` / `confirmed_by_token` let the control plane refuse a confirmation by the proposer's
own token; `withdrawn_at` keeps a withdrawn request on record; `wipe_ordered_at` is when the servers were
first ordered deleted, which happens only after the termination notice reached the mail relay.

Revision ID: 0007_termination_confirmation
Revises: 0006_terms_responses
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_termination_confirmation"
down_revision: str | None = "0006_terms_responses"
branch_labels = None
depends_on = None

_COLUMNS = (
    "proposed_by_token",
    "confirmed_by_token",
    "confirmed_at",
    "withdrawn_at",
    "withdrawn_by",
    "wipe_ordered_at",
)


def upgrade() -> None:
    with op.batch_alter_table("terminations") as batch:
        batch.add_column(sa.Column("proposed_by_token", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("confirmed_by_token", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("withdrawn_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("wipe_ordered_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("terminations") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
