"""policy settings (versioned local choices: deadlines, consultation window, joint meeting day,
rework threshold) and the graded target date (R4/R10) of whistles and task orders

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
import engine.models


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('policy_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('created_at', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version')
    )
    with op.batch_alter_table('whistles') as batch:
        batch.add_column(sa.Column('target_due', engine.models.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('task_orders') as batch:
        batch.add_column(sa.Column('target_due', engine.models.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('task_orders') as batch:
        batch.drop_column('target_due')
    with op.batch_alter_table('whistles') as batch:
        batch.drop_column('target_due')
    op.drop_table('policy_settings')
