"""residents' platforms read a whistle under a random public id (not its guessable number) and
only when it is public; every existing whistle gets a random id; what the platform reported with
its key (actor 'open311') stays public, what officers entered becomes internal

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('whistles') as batch:
        batch.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('public', sa.Boolean(), server_default=sa.false(), nullable=False))
    conn = op.get_bind()
    whistles = sa.table('whistles', sa.column('id', sa.Integer), sa.column('public_id', sa.String),
                        sa.column('public', sa.Boolean))
    events = sa.table('whistle_events', sa.column('whistle_id', sa.Integer), sa.column('actor', sa.String),
                      sa.column('kind', sa.String))
    for (whistle_id,) in conn.execute(sa.select(whistles.c.id)).all():
        conn.execute(whistles.update().where(whistles.c.id == whistle_id)
                     .values(public_id=secrets.token_urlsafe(12)))
    # reports the residents' platform made with its key were readable before: they stay public
    from_platform = sa.select(events.c.whistle_id).where(events.c.kind == 'reported', events.c.actor == 'open311')
    conn.execute(whistles.update().where(whistles.c.id.in_(from_platform)).values(public=True))
    op.create_index('ix_whistles_public_id', 'whistles', ['public_id'], unique=True)


def downgrade():
    op.drop_index('ix_whistles_public_id', table_name='whistles')
    with op.batch_alter_table('whistles') as batch:
        batch.drop_column('public')
        batch.drop_column('public_id')
