"""The Alembic migrations build exactly the schema the models describe, on both databases."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from engine.db import Base, make_engine
import governance.models  # noqa: F401  (every table)
from engine.migrate import upgrade


def test_migrations_match_the_models(db_url):
    eng = make_engine(db_url)
    try:
        upgrade(eng)
        with eng.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == [], f"models and migrations differ: {diff}"
        assert {"instances", "inbox_tasks", "timers", "audit_events", "whistles", "units", "officers"} <= tables
        upgrade(eng)  # running it again is a no-op
    finally:
        eng.dispose()
