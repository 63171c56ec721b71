"""how a whistle was closed (R20): resolved locally, by the street, completed by the departments,
cannot be solved, closed at the joint meeting, or a standing mechanism; only the resolved ones
count as solved

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('whistles') as batch:
        batch.add_column(sa.Column('outcome', sa.String(length=30), nullable=True))
        batch.create_index(batch.f('ix_whistles_outcome'), ['outcome'], unique=False)
    # closures recorded before this revision kept no outcome: they stay unknown (NULL) and are
    # counted as closed, never as solved


def downgrade():
    with op.batch_alter_table('whistles') as batch:
        batch.drop_index(batch.f('ix_whistles_outcome'))
        batch.drop_column('outcome')
