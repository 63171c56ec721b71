"""Database sessions for a request: one read session (closed at teardown) and write
transactions that commit on success and roll back on any error."""
from __future__ import annotations

from contextlib import contextmanager

from flask import current_app, g

from engine.db import write_session


def factory():
    return current_app.extensions["sessions"]


def db():
    """The request's read session."""
    if "db" not in g:
        g.db = factory()()
    return g.db


@contextmanager
def write():
    """A write transaction (BEGIN IMMEDIATE on SQLite): committed, or rolled back on any error."""
    with write_session(factory()) as session:
        yield session


def close_db(_exc=None):
    session = g.pop("db", None)
    if session is not None:
        session.close()
