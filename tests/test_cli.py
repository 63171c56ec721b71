"""The `whistle` command, run as a newcomer runs it: a real process on a real database file."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import enginekit as kit

ROOT = Path(__file__).resolve().parent.parent
WHISTLE = [sys.executable, "-m", "webapp.cli"]


def run(args, db, check=True, timeout=120):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(WHISTLE + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"whistle {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


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
