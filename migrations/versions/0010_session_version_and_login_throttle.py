"""sessions and API tokens carry the officer's session version (logout and password change/reset
end them all); failed logins are counted in the database per account and per client address

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
import engine.models


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('officers') as batch:
        batch.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_failure', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade():
    op.drop_table('login_throttle')
    with op.batch_alter_table('officers') as batch:
        batch.drop_column('session_version')
