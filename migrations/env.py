"""Alembic environment: the schema of engine/ and governance/ on the database of DATABASE_URL
(or the connection handed over by `engine.migrate.upgrade`)."""
from alembic import context

import engine.models  # noqa: F401  (the tables of every layer that has some)
import governance.models  # noqa: F401
from engine.db import Base, make_engine

target_metadata = Base.metadata
config = context.config


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    db_engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with db_engine.connect() as conn:
        _run(conn)


def _run(connection):
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
