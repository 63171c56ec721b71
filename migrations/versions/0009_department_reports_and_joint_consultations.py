"""every dispatched department's own report for duty (R8/R9: lead and cooperating, per
whistling community) and the lead department's joint consultation (R13)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
import engine.models


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('department_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('whistle_id', sa.Integer(), nullable=False),
    sa.Column('task_order_no', sa.String(length=40), nullable=False),
    sa.Column('department_id', sa.String(length=50), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('community_id', sa.String(length=50), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('opened_at', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('report_due', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reported_at', engine.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.Column('notified_at', engine.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('visited_on', sa.Date(), nullable=True),
    sa.Column('leader_name', sa.String(length=50), nullable=True),
    sa.Column('leader_phone', sa.String(length=40), nullable=True),
    sa.Column('contact_name', sa.String(length=50), nullable=True),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('work_plan', sa.Text(), nullable=True),
    sa.Column('reported_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['units.id'], name=op.f('fk_department_reports_community_id_units')),
    sa.ForeignKeyConstraint(['department_id'], ['units.id'], name=op.f('fk_department_reports_department_id_units')),
    sa.ForeignKeyConstraint(['whistle_id'], ['whistles.id'], name=op.f('fk_department_reports_whistle_id_whistles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department_reports'))
    )
    with op.batch_alter_table('department_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_reports_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_department_reports_whistle_id'), ['whistle_id'], unique=False)
        batch_op.create_index('ix_department_reports_order_department', ['task_order_no', 'department_id'], unique=False)

    op.create_table('joint_consultations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('whistle_id', sa.Integer(), nullable=False),
    sa.Column('task_order_no', sa.String(length=40), nullable=True),
    sa.Column('lead_department_id', sa.String(length=50), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('participant_ids', sa.JSON(), nullable=False),
    sa.Column('absent_ids', sa.JSON(), nullable=False),
    sa.Column('work_split', sa.JSON(), nullable=False),
    sa.Column('split_text', sa.Text(), nullable=False),
    sa.Column('minutes', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.String(length=100), nullable=True),
    sa.Column('at', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lead_department_id'], ['units.id'], name=op.f('fk_joint_consultations_lead_department_id_units')),
    sa.ForeignKeyConstraint(['whistle_id'], ['whistles.id'], name=op.f('fk_joint_consultations_whistle_id_whistles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_joint_consultations'))
    )
    with op.batch_alter_table('joint_consultations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_joint_consultations_whistle_id'), ['whistle_id'], unique=False)


def downgrade():
    with op.batch_alter_table('joint_consultations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_joint_consultations_whistle_id'))
    op.drop_table('joint_consultations')
    with op.batch_alter_table('department_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_department_reports_order_department')
        batch_op.drop_index(batch_op.f('ix_department_reports_whistle_id'))
        batch_op.drop_index(batch_op.f('ix_department_reports_department_id'))
    op.drop_table('department_reports')
