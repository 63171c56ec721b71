"""annual assessment uses the communities' preliminary opinions (R17): an opinion weight in the
scoring settings and an opinion score per result row

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # versions saved before this change did not weigh the opinions: they keep weight 0
    with op.batch_alter_table('assessment_settings') as batch:
        batch.add_column(sa.Column('opinion_weight', sa.Float(), nullable=False, server_default='0'))
    with op.batch_alter_table('assessment_results') as batch:
        batch.add_column(sa.Column('opinion_score', sa.Float(), nullable=True))


def downgrade():
    with op.batch_alter_table('assessment_results') as batch:
        batch.drop_column('opinion_score')
    with op.batch_alter_table('assessment_settings') as batch:
        batch.drop_column('opinion_weight')
