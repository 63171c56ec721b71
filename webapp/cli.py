"""The `whistle` command: set up, deploy, run and repair the system from a shell.

Works on the database named by DATABASE_URL (default: whistle.db in the working directory).
Errors are printed as readable lines and a non-zero exit status, never as a traceback.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path

import click

from engine import clock, runtime
from engine.db import database_url, write_session
from engine.deploy import deploy, read_folder
from engine.errors import DeployRefused, EngineError

from .system import FORMS_DIR, PROCESSES_DIR, session_factory


def _fail(message: str, code: int = 1):
    click.echo(message, err=True)
    sys.exit(code)


def _deploy_path(factory, path: Path, actor: str | None, once: bool = False) -> bool:
    if path.is_dir():
        files = read_folder(path)
    elif path.is_file():
        files = {path.name: path.read_bytes()}
    else:
        click.echo(f"{path}: no such file or folder", err=True)
        return False
    try:
        with write_session(factory) as session:
            from .policy import stored_forms   # forms saved in the form editor stand in for forms/
            result = deploy(session, files, forms_dir=FORMS_DIR, actor=actor, once=once,
                            form_overrides=stored_forms(session))
            versions = ", ".join(f"{v.process_id} v{v.version}" for v in result.versions)
    except DeployRefused as exc:
        click.echo(f"{path}: refused", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        return False
    click.echo(f"{path}: {'deployed' if result.created else 'unchanged'} ({versions})")
    return True


class _Group(click.Group):
    """Turns database trouble into one readable line instead of a traceback."""

    def invoke(self, ctx):
        from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            _fail(f"database error on {database_url()}: {str(exc.orig).splitlines()[0]}\n"
                  "(has `whistle init` been run on this database?)", code=2)
        except DBAPIError as exc:
            _fail(f"database error on {database_url()}: {str(exc.orig).splitlines()[0]}", code=2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
def main(verbose: bool):
    """吹哨报到 (Whistle & Report) command line."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--demo", is_flag=True, help="Also load the sample Ma'anshan directory and demo officers.")
def init(demo: bool):
    """Create or upgrade the schema, deploy processes/, optionally load demo data."""
    from engine.migrate import upgrade
    factory = session_factory()
    upgrade(factory.kw["bind"])
    click.echo(f"database ready: {database_url()}")
    if demo:
        from governance.demo import load_demo
        with write_session(factory) as session:
            load_demo(session)
        click.echo("demo directory and officers loaded (sample data)")
    if not _deploy_path(factory, PROCESSES_DIR, actor="system", once=True):   # keeps what staff deployed since
        sys.exit(1)
    from governance.assessment import schedule_current_year
    with write_session(factory) as session:
        row = schedule_current_year(session, actor="system")
        if row is not None:
            click.echo(f"annual assessment of {row.year} scheduled (R17: starts after the year ends)")
    from governance.joint import repair as repair_joint_matters
    with write_session(factory) as session:
        fixed = repair_joint_matters(session, actor="system")
    for joint_no in fixed["repaired"]:
        click.echo(f"joint matter {joint_no}: its org department's tasks now reach that department (R14)")
    for joint_no in fixed["released"]:
        click.echo(f"joint matter {joint_no} was cancelled: its whistles went back to their streets (R14)")


@main.command("deploy")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--actor", default=None, help="Recorded as the deployer.")
def deploy_cmd(paths, actor):
    """Deploy BPMN/DMN files; a folder is deployed as one set."""
    factory = session_factory()
    ok = [_deploy_path(factory, path, actor) for path in paths]
    sys.exit(0 if all(ok) else 1)


@main.command()
@click.argument("process_id")
@click.option("--data", default="{}", help="Start data as a JSON object.")
@click.option("--actor", default=None)
def start(process_id, data, actor):
    """Start an instance of the newest version of PROCESS_ID."""
    try:
        payload = json.loads(data)
    except ValueError as exc:
        _fail(f"--data is not JSON: {exc}")
    if not isinstance(payload, dict):
        _fail("--data must be a JSON object")
    try:
        with write_session(session_factory()) as session:
            instance = runtime.start(session, process_id, payload, actor=actor)
            click.echo(json.dumps({"instance_id": instance.id, "status": instance.status,
                                   "incident": instance.incident}, ensure_ascii=False))
    except EngineError as exc:
        _fail(f"error: {exc.message}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int,
              help="gunicorn worker processes (more on PostgreSQL; export progress is per process)")
@click.option("--threads", default=8, show_default=True, type=int, help="threads per worker")
@click.option("--check", is_flag=True, help="Check the database and the configuration, then exit.")
def serve(host, port, workers, threads, check):
    """Run the web application (gunicorn).

    Needs a secret key (WHISTLE_SECRET_KEY or WHISTLE_SECRET_KEY_FILE) unless the database is a
    demo one served on a loopback address; refuses a database with demo officers on any other address.
    """
    from gunicorn.app.base import BaseApplication

    from . import create_app
    from .serve_guard import ServeRefused, decide

    try:
        with session_factory()() as session:
            decision = decide(session, host)
    except ServeRefused as exc:
        _fail(str(exc))
    for note in decision.notes:
        click.echo(note, err=True)
    if check:
        click.echo(f"ok: {database_url()} may be served on {host}")
        return

    class _App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", "-")

        def load(self):
            return create_app(decision.config)

    _App().run()


@main.command("secret-key")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where the key is kept (default: $XDG_CONFIG_HOME/whistle-report/secret_key).")
def secret_key_cmd(path):
    """Create a random secret key file (mode 0600, outside the source tree) once; print its path.

    Serve with it: WHISTLE_SECRET_KEY_FILE=$(whistle secret-key) whistle serve
    """
    from .secret_key import SecretKeyError, ensure_key_file
    try:
        click.echo(str(ensure_key_file(path)))
    except SecretKeyError as exc:
        _fail(str(exc))


@main.command()
@click.option("--interval", default=5.0, show_default=True, help="Seconds between sweeps.")
@click.option("--once", is_flag=True, help="Sweep once and exit.")
def worker(interval, once):
    """Fire due timers, continuously."""
    from engine.timers import sweep
    factory = session_factory()
    click.echo(f"timer worker started (every {interval:g} s)")
    while True:
        try:
            result = sweep(factory)
        except Exception as exc:  # database restarting, locked, …: log it and try again later
            logging.getLogger("whistle.worker").exception("timer sweep failed: %s", exc)
            if once:
                sys.exit(1)
            time.sleep(interval)
            continue
        if result.fired:
            click.echo(f"{clock.now():%Y-%m-%d %H:%M:%S} fired timers of instances {result.fired}"
                       + (f"; incidents: {result.incidents}" if result.incidents else ""))
        if once:
            return
        time.sleep(interval)


@main.command()
@click.option("--now", "now_text", required=True, help="ISO-8601 instant, e.g. 2026-12-04T09:00:00+08:00")
def timers(now_text):
    """Fire everything due at the instant NOW (catch up after an outage, demos, tests)."""
    from engine.timers import sweep
    try:
        now = datetime.fromisoformat(now_text)
    except ValueError:
        _fail(f"--now is not an ISO-8601 instant: {now_text!r}")
    if now.tzinfo is None:
        _fail("--now needs a UTC offset, e.g. +08:00")
    result = sweep(session_factory(), now=now)
    click.echo(json.dumps({"fired": result.fired, "incidents": result.incidents,
                           "conflicts": result.conflicts}))


@main.command()
@click.option("--json", "as_json", is_flag=True)
def users(as_json):
    """List officers (demo officers with their password)."""
    from governance.officers import list_users
    with session_factory()() as session:
        rows = list_users(session)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    click.echo(f"{'username':<24} {'password':<12} {'role':<14} unit")
    for row in rows:
        click.echo(f"{row['username']:<24} {row.get('password') or '':<12} {row['role']:<14} {row['unit_name'] or ''}")


@main.command()
@click.argument("instance_id", type=int)
@click.option("--reason", default=None)
@click.option("--actor", default=None)
def retry(instance_id, reason, actor):
    """Run the step that raised INSTANCE's incident again."""
    try:
        with write_session(session_factory()) as session:
            instance = runtime.retry(session, instance_id, actor=actor, reason=reason)
            status, incident = instance.status, instance.incident
    except EngineError as exc:
        _fail(f"error: {exc.message}")
    click.echo(json.dumps({"instance_id": instance_id, "status": status, "incident": incident},
                          ensure_ascii=False))
    if status == "incident":
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("-n", "--lifecycles", default=200, show_default=True, help="Instances run to the end.")
def bench(as_json, lifecycles):
    """Measure persisted steps against plain in-memory SpiffWorkflow on the configured database."""
    from engine.bench import run_bench
    result = run_bench(database_url(), lifecycles)
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key:>24}: {value}")


@main.group()
def directory():
    """The organisation directory."""


@directory.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def directory_import(csv_file):
    """Load a directory CSV (id, kind, name, parent_id, categories); all or nothing."""
    from governance.directory import import_directory_csv
    try:
        with write_session(session_factory()) as session:
            summary = import_directory_csv(session, csv_file)
    except ValueError as exc:
        _fail(f"{csv_file}: refused\n{exc}")
    click.echo(f"{csv_file}: {summary}")


@main.group("calendar")
def calendar_group():
    """The official holiday arrangement (holidays and make-up working days)."""


@calendar_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default="cli", show_default=True, help="Recorded as who entered the days.")
def calendar_import(csv_file, actor):
    """Load a calendar CSV (date, type = holiday/休 or workday/班, name, note); all or nothing."""
    from governance.calendar_days import import_calendar_csv
    try:
        with write_session(session_factory()) as session:
            result = import_calendar_csv(session, csv_file, actor=actor)
    except ValueError as exc:
        _fail(f"{csv_file}: refused\n{exc}")
    click.echo(f"{csv_file}: {result}")


if __name__ == "__main__":
    main()
