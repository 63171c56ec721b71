"""The `whistle` command, run as a newcomer runs it: a real process on a real database file."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests import enginekit as kit

ROOT = Path(__file__).resolve().parent.parent
WHISTLE = [sys.executable, "-m", "webapp.cli"]


def run(args, db, check=True, timeout=120, env=None):
    env = {**_environ(), "DATABASE_URL": f"sqlite:///{db}", "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.run(WHISTLE + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"whistle {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _environ() -> dict:
    """This process's environment without any secret key setting (each test says what it sets)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_SECRET_KEY")}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "whistle.db"
    run(["init", "--demo"], path)
    return path


def test_init_deploys_the_procedure_and_is_repeatable(db):
    again = run(["init", "--demo"], db)
    assert "unchanged" in again.stdout


def test_users_lists_demo_officers_with_passwords(db):
    users = json.loads(run(["users", "--json"], db).stdout)
    roles = {u["role"] for u in users}
    assert {"community", "street", "district_org", "city_org", "department", "policy_staff", "admin"} <= roles
    assert all(u["username"] and u["password"] for u in users)
    assert all(u["unit_id"] and u["unit_name"] for u in users if u["role"] not in ("policy_staff", "admin"))


@pytest.mark.skipif(not kit.CORPUS.exists(), reason="shared/corpus is not beside the project")
def test_deploy_refuses_hostile_files_readably_without_traceback(db):
    files = sorted((kit.CORPUS / "hostile").glob("*.bpmn"))
    proc = run(["deploy", *map(str, files)], db, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    for path in files:
        if path.name != "control-valid-minimal.bpmn":
            assert f"{path}: refused" in proc.stderr
    assert "script tasks are not allowed" in proc.stderr
    assert "__import__" in proc.stderr


def test_start_with_bad_json_is_a_readable_error(db):
    proc = run(["start", "whistle", "--data", "{nope"], db, check=False)
    assert proc.returncode != 0 and "not JSON" in proc.stderr and "Traceback" not in proc.stderr
    proc = run(["start", "no_such_process"], db, check=False)
    assert proc.returncode != 0 and "not deployed" in proc.stderr


def test_timers_needs_an_offset(db):
    proc = run(["timers", "--now", "2026-12-01T09:00:00"], db, check=False)
    assert proc.returncode != 0 and "offset" in proc.stderr
    fired = json.loads(run(["timers", "--now", "2026-12-01T09:00:00+08:00"], db).stdout)
    assert fired["fired"] == [] and fired["incidents"] == []


def test_bench_prints_the_measures(tmp_path):
    out = run(["bench", "--json", "-n", "3"], tmp_path / "bench.db").stdout
    result = json.loads(out)
    for key in ("persisted_steps_per_s", "raw_steps_per_s", "ratio", "p50_ms", "p95_ms", "bytes_per_instance"):
        assert result[key] > 0
    assert result["final_status"] == ["completed"] and result["steps"] == 3 * 12


def test_commands_on_an_uninitialised_database_say_so(tmp_path):
    proc = run(["deploy", str(ROOT / "processes")], tmp_path / "empty.db", check=False)
    assert proc.returncode == 2
    assert "whistle init" in proc.stderr and "Traceback" not in proc.stderr


# -- issue 10: secrets and demo officers --------------------------------------------------------

KEY = {"WHISTLE_SECRET_KEY": "k" * 48}


@pytest.fixture(scope="module")
def real_db(tmp_path_factory):
    """A database made without --demo (a real installation)."""
    path = tmp_path_factory.mktemp("cli-real") / "whistle.db"
    run(["init"], path)
    return path


def test_demo_officers_exist_only_in_a_database_made_with_demo(real_db):
    assert json.loads(run(["users", "--json"], real_db).stdout) == []


def test_serve_refuses_a_database_with_demo_officers_on_a_public_address(db):
    proc = run(["serve", "--host", "0.0.0.0", "--check"], db, check=False, env=KEY)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "demo officer" in proc.stderr and "demo1234" in proc.stderr and "admin" in proc.stderr
    assert "127.0.0.1" in proc.stderr                          # says where it may run
    ok = run(["serve", "--host", "127.0.0.1", "--check"], db, env=KEY)
    assert ok.returncode == 0 and "ok:" in ok.stdout


def test_a_demo_database_on_loopback_runs_without_a_key_on_a_random_one(db):
    proc = run(["serve", "--host", "127.0.0.1", "--check"], db)
    assert proc.returncode == 0 and "random key" in proc.stderr


def test_serve_refuses_to_start_without_a_configured_secret(real_db, tmp_path):
    for host in ("127.0.0.1", "0.0.0.0"):
        proc = run(["serve", "--host", host, "--check"], real_db, check=False)
        assert proc.returncode == 1 and "no secret key configured" in proc.stderr
        assert "WHISTLE_SECRET_KEY" in proc.stderr and "Traceback" not in proc.stderr
    for key, reason in (("dev-only-change-me", "published"), ("short", "too short")):
        proc = run(["serve", "--check"], real_db, check=False, env={"WHISTLE_SECRET_KEY": key})
        assert proc.returncode == 1 and reason in proc.stderr
    loose = tmp_path / "loose-key"
    loose.write_text("x" * 48)
    loose.chmod(0o644)
    proc = run(["serve", "--check"], real_db, check=False, env={"WHISTLE_SECRET_KEY_FILE": str(loose)})
    assert proc.returncode == 1 and "chmod 600" in proc.stderr
    assert run(["serve", "--host", "0.0.0.0", "--check"], real_db, env=KEY).returncode == 0


def test_secret_key_file_is_made_once_private_and_outside_the_source_tree(db, tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    first = Path(run(["secret-key"], db, env=env).stdout.strip())
    assert first == tmp_path / "config" / "whistle-report" / "secret_key"
    assert first.stat().st_mode & 0o777 == 0o600 and len(first.read_text().strip()) >= 32
    key = first.read_text()
    assert Path(run(["secret-key"], db, env=env).stdout.strip()) == first and first.read_text() == key
    inside = run(["secret-key", "--file", str(ROOT / "secret_key")], db, check=False)
    assert inside.returncode == 1 and "source tree" in inside.stderr and not (ROOT / "secret_key").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_runs_with_the_key_file_and_answers_with_security_headers(real_db, tmp_path):
    key_file = Path(run(["secret-key"], real_db, env={"XDG_CONFIG_HOME": str(tmp_path)}).stdout.strip())
    port = _free_port()
    env = {**_environ(), "DATABASE_URL": f"sqlite:///{real_db}", "PYTHONPATH": str(ROOT),
           "WHISTLE_SECRET_KEY_FILE": str(key_file)}
    server = subprocess.Popen(WHISTLE + ["serve", "--port", str(port), "--workers", "1", "--threads", "2"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        response = None
        for _ in range(100):
            try:
                response = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    raise AssertionError(server.stderr.read())
                time.sleep(0.2)
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        server.terminate()
        server.wait(timeout=20)
