"""forms saved in the form editor are stored as versions in the database (never in forms/)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
import engine.models


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('form_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('schema', sa.JSON(), nullable=False),
    sa.Column('saved_by', sa.String(length=100), nullable=True),
    sa.Column('saved_at', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'version')
    )
    with op.batch_alter_table('form_versions') as batch:
        batch.create_index(batch.f('ix_form_versions_name'), ['name'], unique=False)


def downgrade():
    with op.batch_alter_table('form_versions') as batch:
        batch.drop_index(batch.f('ix_form_versions_name'))
    op.drop_table('form_versions')
