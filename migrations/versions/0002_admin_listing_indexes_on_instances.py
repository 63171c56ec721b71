"""admin listing indexes on instances

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Engine tables only: indexes for the administrators' instance listing (newest first, keyset-paged on
id) by process, by status and by start date; counts per version and status from an index
(replaces the single-column index on process_version_id).
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.create_index('ix_instances_process_id_id', ['process_id', 'id'], unique=False)
        batch_op.create_index('ix_instances_started_at', ['started_at'], unique=False)
        batch_op.create_index('ix_instances_status_id', ['status', 'id'], unique=False)
        batch_op.create_index('ix_instances_version_status', ['process_version_id', 'status'], unique=False)
        batch_op.drop_index('ix_instances_process_version_id')


def downgrade():
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.create_index('ix_instances_process_version_id', ['process_version_id'], unique=False)
        batch_op.drop_index('ix_instances_version_status')
        batch_op.drop_index('ix_instances_status_id')
        batch_op.drop_index('ix_instances_started_at')
        batch_op.drop_index('ix_instances_process_id_id')
