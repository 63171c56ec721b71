"""Shared fixtures: every database test runs on SQLite and, when TEST_POSTGRES_URL is set (CI sets
it), on PostgreSQL too. With WHISTLE_REQUIRE_POSTGRES=1 a missing server fails instead of skipping."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import text

import engine.models  # noqa: F401  (tables)
from engine.db import Base, make_engine, make_sessionmaker

PG_URL = os.environ.get("TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("WHISTLE_REQUIRE_POSTGRES") == "1"
# the wall clock the whole run pretends (ISO 8601 with offset), to prove that no test depends on
# today's date: WHISTLE_TEST_WALL_CLOCK=2027-01-01T00:30+08:00 make test
WALL_CLOCK = os.environ.get("WHISTLE_TEST_WALL_CLOCK")


@pytest.fixture(scope="session", autouse=True)
def wall_clock():
    """The run's wall clock: the real one, or WHISTLE_TEST_WALL_CLOCK (ticking from there)."""
    if not WALL_CLOCK:
        yield None
        return
    import time_machine
    from datetime import datetime
    with time_machine.travel(datetime.fromisoformat(WALL_CLOCK), tick=True) as traveller:
        yield traveller


def _import_all_models():
    import importlib
    for module in ("governance.models",):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            pass


@contextmanager
def scratch_database(kind: str, folder):
    """The URL of an empty database of `kind` ('sqlite': a file in `folder`; 'postgresql': a
    schema of its own on TEST_POSTGRES_URL, dropped afterwards); skips or fails without a server."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'test.db'}"
        return
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("TEST_POSTGRES_URL is not set but WHISTLE_REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL tests need TEST_POSTGRES_URL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # server down
        admin.dispose()
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at {PG_URL} is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    with scratch_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def db_engine(db_url):
    _import_all_models()
    eng = make_engine(db_url)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(db_engine):
    return make_sessionmaker(db_engine)


@pytest.fixture
def session(session_factory):
    with session_factory() as s:
        yield s


@pytest.fixture
def sqlite_factory(tmp_path):
    """A SQLite-only database, for tests whose subject does not depend on the database kind."""
    _import_all_models()
    eng = make_engine(f"sqlite:///{tmp_path / 'only.db'}")
    Base.metadata.create_all(eng)
    yield make_sessionmaker(eng)
    eng.dispose()
