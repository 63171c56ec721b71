"""Wiring shared by the web app and the command line: the database and the registrations that
make the engine know our handlers, roles and form choices."""
from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from engine.db import database_url, make_engine, make_sessionmaker

ROOT = Path(__file__).resolve().parent.parent
PROCESSES_DIR = ROOT / "processes"
FORMS_DIR = ROOT / "forms"


@lru_cache(maxsize=1)
def load_plugins() -> None:
    """Register handlers, roles and the form resolver with the engine (once per process)."""
    for name in ("governance.roles", "handlers", "governance.forms"):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


@lru_cache(maxsize=8)
def _engine(url: str):
    return make_engine(url)


def session_factory(url: str | None = None):
    load_plugins()
    return make_sessionmaker(_engine(url or database_url()))
