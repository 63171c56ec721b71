"""Deploying diagrams: versions, identical redeploys, and refusals that store nothing."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from engine.db import write_session
from engine.deploy import deploy, read_folder
from engine.errors import DeployRefused
from engine.models import ProcessVersion
from tests import enginekit as kit
from tests.enginekit import bpmn, flow, service_task, user_task
from tests.test_deploy_call_io import io_spec


def refused(factory, files) -> list:
    before = kit.deployments(factory)
    with pytest.raises(DeployRefused) as info:
        kit.deploy_files(factory, files)
    assert kit.deployments(factory) == before, "a refused deployment must store nothing"
    problems = info.value.problems
    assert problems and all(p.message for p in problems)
    return problems


def messages(problems) -> str:
    return "\n".join(str(p) for p in problems)


def test_deploy_creates_version_and_identical_redeploy_creates_none(session_factory):
    first = kit.deploy_files(session_factory, kit.approval_files())
    assert first.created and [(v.process_id, v.version) for v in first.versions] == [("approval", 1)]
    again = kit.deploy_files(session_factory, kit.approval_files())
    assert not again.created
    assert [v.id for v in again.versions] == [v.id for v in first.versions]
    assert kit.count(session_factory, ProcessVersion) == 1


def test_changed_content_is_a_new_version_and_old_instances_keep_theirs(session_factory):
    kit.deploy_files(session_factory, kit.approval_files())
    old_instance = kit.start(session_factory)
    changed = kit.approval_files()["approval.bpmn"].replace(b'name="Review"', b'name="Second look"')
    result = kit.deploy_files(session_factory, {"approval.bpmn": changed})
    assert result.created and result.versions[0].version == 2
    new_instance = kit.start(session_factory)
    assert kit.get_instance(session_factory, old_instance).version.version == 1
    assert kit.get_instance(session_factory, new_instance).version.version == 2
    # the old instance still runs on version 1: its review task keeps the old name
    [task] = kit.inbox(session_factory, old_instance)
    kit.complete(session_factory, task.id, {"amount": 3, "team_id": "t1"})
    [review] = kit.inbox(session_factory, old_instance)
    assert review.name == "Review"
    kit.complete(session_factory, kit.inbox(session_factory, new_instance)[0].id, {"amount": 3, "team_id": "t1"})
    assert kit.inbox(session_factory, new_instance)[0].name == "Second look"


def test_deploy_records_forms_and_task_meta(session_factory):
    result = kit.deploy_files(session_factory, kit.approval_files())
    deployment = result.deployment
    assert set(deployment.forms) == {"submit.json", "review.json"}
    meta = deployment.task_meta["approval"]
    assert meta["submit"]["role"] == "clerk" and meta["submit"]["unit_key"] == "clerk_unit"
    assert meta["review"]["role"] == "manager" and meta["review"]["unit_key"] == "team_id"


HOSTILE = sorted(p for p in (kit.CORPUS / "hostile").glob("*.bpmn") if p.name != "control-valid-minimal.bpmn")


@pytest.mark.skipif(not kit.CORPUS.exists(), reason="shared/corpus is not beside the project")
@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p.name)
def test_hostile_diagrams_are_refused_with_nothing_stored(session_factory, path):
    started = time.perf_counter()
    problems = refused(session_factory, {path.name: path.read_bytes()})
    assert time.perf_counter() - started < 5, "a hostile file must not make deploy hang"
    text = messages(problems)
    assert "root:" not in text, "no file content may leak from an external entity"


@pytest.mark.skipif(not kit.CORPUS.exists(), reason="shared/corpus is not beside the project")
def test_control_diagram_is_refused_only_by_product_rules(session_factory):
    path = kit.CORPUS / "hostile" / "control-valid-minimal.bpmn"
    text = messages(refused(session_factory, {path.name: path.read_bytes()}))
    assert "no form" in text and "assignment" in text
    assert "BPMN schema" not in text and "not well-formed" not in text


def test_xxe_entity_is_not_resolved(session_factory, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    doc = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
           f'<bpmn:definitions {kit.NS} id="d" targetNamespace="t"><bpmn:process id="p" isExecutable="true" name="&x;">'
           f'<bpmn:startEvent id="s"/></bpmn:process></bpmn:definitions>').encode()
    text = messages(refused(session_factory, {"x.bpmn": doc}))
    assert "TOP-SECRET-CONTENT" not in text


def test_billion_laughs_and_oversized_files_are_refused_fast(session_factory):
    laughs = ['<!ENTITY l0 "ha">'] + [f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
    doc = (f'<?xml version="1.0"?><!DOCTYPE d [{"".join(laughs)}]>'
           f'<bpmn:definitions {kit.NS} id="d" targetNamespace="t"><bpmn:process id="p" name="&l9;"/>'
           f'</bpmn:definitions>').encode()
    started = time.perf_counter()
    refused(session_factory, {"laughs.bpmn": doc})
    big = bpmn('<bpmn:startEvent id="s"/>' + "<!--" + "x" * (3 * 1024 * 1024) + "-->")
    assert "larger than" in messages(refused(session_factory, {"big.bpmn": big}))
    assert time.perf_counter() - started < 5


def test_script_task_and_pre_script_are_refused(session_factory):
    body = ('<bpmn:startEvent id="s"/><bpmn:scriptTask id="run_it" scriptFormat="python">'
            '<bpmn:script>import os</bpmn:script></bpmn:scriptTask>'
            + user_task("t", extra_props="").replace(
                "</spiffworkflow:properties>", "</spiffworkflow:properties><spiffworkflow:preScript>x = 1"
                                               "</spiffworkflow:preScript>")
            + flow("f1", "s", "run_it") + flow("f2", "run_it", "t"))
    problems = refused(session_factory, {"s.bpmn": bpmn(body)})
    assert {p.element for p in problems} >= {"run_it", "t"}
    assert all(p.line for p in problems)


@pytest.mark.parametrize("condition, expected", [
    ("__import__('os').system('id')", "__import__"),
    ("().__class__.__subclasses__()", "__class__"),
    ("${amount &gt; 5}", "vendor expression"),
    ("=amount &gt; 5", "FEEL"),
    ("open('/etc/passwd')", "open()"),
    ("amount &gt;", "syntax error"),
])
def test_bad_gateway_conditions_are_refused_naming_the_flow(session_factory, condition, expected):
    body = ('<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g" default="f_no"/>'
            '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>'
            + flow("f1", "s", "g") + flow("f_yes", "g", "yes", condition) + flow("f_no", "g", "no"))
    [problem] = refused(session_factory, {"c.bpmn": bpmn(body)})
    assert problem.element == "f_yes" and expected in problem.message and problem.line


@pytest.mark.parametrize("expression, expected", [("PT5M", "quoted"), ("'next tuesday'", "ISO-8601")])
def test_bad_timer_expressions_are_refused(session_factory, expression, expected):
    body = ('<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
            f'<bpmn:timeDuration>{expression}</bpmn:timeDuration></bpmn:timerEventDefinition>'
            '</bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>' + flow("f1", "s", "wait") + flow("f2", "wait", "e"))
    [problem] = refused(session_factory, {"t.bpmn": bpmn(body)})
    assert problem.element == "wait" and expected in problem.message


def test_unknown_handler_missing_form_and_unknown_role_are_refused(session_factory):
    body = ('<bpmn:startEvent id="s"/>' + service_task("call_it", "no.such.handler")
            + user_task("t1", form="missing.json")
            + user_task("t2").replace('value="manager"', 'value="astronaut"')
            + flow("f1", "s", "call_it") + flow("f2", "call_it", "t1") + flow("f3", "t1", "t2"))
    problems = {p.element: p.message for p in refused(session_factory, {"u.bpmn": bpmn(body)})}
    assert "unknown handler 'no.such.handler'" in problems["call_it"]
    assert "missing.json" in problems["t1"]
    assert "astronaut" in problems["t2"]


def test_service_task_parameters_are_sandboxed(session_factory):
    body = ('<bpmn:startEvent id="s"/>'
            + service_task("rec", "test.record",
                           '<spiffworkflow:parameter id="amount" type="int" value="__import__(\'os\').getpid()"/>')
            + '<bpmn:endEvent id="e"/>' + flow("f1", "s", "rec") + flow("f2", "rec", "e"))
    [problem] = refused(session_factory, {"p.bpmn": bpmn(body)})
    assert problem.element == "rec" and "__import__" in problem.message


def test_call_activity_cycles_and_missing_targets_are_refused(session_factory):
    a = bpmn('<bpmn:startEvent id="s"/><bpmn:callActivity id="call_b" calledElement="b"/><bpmn:endEvent id="e"/>'
             + flow("f1", "s", "call_b") + flow("f2", "call_b", "e"), process_id="a")
    b = bpmn('<bpmn:startEvent id="s"/><bpmn:callActivity id="call_a" calledElement="a"/><bpmn:endEvent id="e"/>'
             + flow("f1", "s", "call_a") + flow("f2", "call_a", "e"), process_id="b")
    assert "cycle" in messages(refused(session_factory, {"a.bpmn": a, "b.bpmn": b}))
    self_call = bpmn('<bpmn:startEvent id="s"/><bpmn:callActivity id="again" calledElement="c"/>'
                     '<bpmn:endEvent id="e"/>' + flow("f1", "s", "again") + flow("f2", "again", "e"), process_id="c")
    assert "cycle" in messages(refused(session_factory, {"c.bpmn": self_call}))
    assert "neither in this deployment nor deployed" in messages(refused(session_factory, {"a.bpmn": a}))


def test_called_process_deployed_earlier_is_bundled(session_factory):
    b = bpmn(io_spec("b", ["team_id"], ["decision"]) + '<bpmn:startEvent id="s"/>' + user_task("inner")
             + '<bpmn:endEvent id="e"/>' + flow("f1", "s", "inner") + flow("f2", "inner", "e"), process_id="b")
    kit.deploy_files(session_factory, {"b.bpmn": b})
    a = bpmn('<bpmn:startEvent id="s"/><bpmn:callActivity id="call_b" calledElement="b"/><bpmn:endEvent id="e"/>'
             + flow("f1", "s", "call_b") + flow("f2", "call_b", "e"), process_id="a")
    result = kit.deploy_files(session_factory, {"a.bpmn": a})
    assert "b.bpmn" in result.deployment.dependencies
    instance_id = kit.start(session_factory, "a", {"team_id": "t7"})
    [task] = kit.inbox(session_factory, instance_id)
    assert (task.task, task.role, task.unit_id) == ("inner", "manager", "t7")
    kit.complete(session_factory, task.id, {"decision": "approve"})
    assert kit.get_instance(session_factory, instance_id).status == "completed"


def test_no_executable_process_is_refused(session_factory):
    doc = (f'<bpmn:definitions {kit.NS} id="d" targetNamespace="t"><bpmn:process id="p" isExecutable="false"/>'
           f'</bpmn:definitions>').encode()
    assert "no executable process" in messages(refused(session_factory, {"n.bpmn": doc}))


def _corpus_items():
    root = kit.CORPUS / "third-party"
    if not root.exists():
        return []
    items = [p for p in sorted(root.rglob("*.bpmn")) if ".bundle" not in str(p.parent)]
    return items + sorted(p for p in root.rglob("*.bundle") if p.is_dir())


@pytest.mark.skipif(not kit.CORPUS.exists(), reason="shared/corpus is not beside the project")
@pytest.mark.parametrize("path", _corpus_items(), ids=lambda p: str(p.relative_to(kit.CORPUS / "third-party")))
def test_third_party_diagrams_deploy_or_are_refused_readably(sqlite_factory, path: Path):
    files = read_folder(path) if path.is_dir() else {path.name: path.read_bytes()}
    before = kit.deployments(sqlite_factory)
    started = time.perf_counter()
    try:
        with write_session(sqlite_factory) as session:
            result = deploy(session, files, forms_dir=kit.FORMS)
        assert result.versions, "a successful deployment names its processes"
    except DeployRefused as exc:
        assert exc.problems and all(p.message and (p.file or p.element) for p in exc.problems)
        assert kit.deployments(sqlite_factory) == before
    assert time.perf_counter() - started < 10


def test_a_changed_form_alone_makes_a_new_version(session_factory, tmp_path):
    import shutil
    forms = tmp_path / "forms"
    shutil.copytree(kit.FORMS, forms)
    with write_session(session_factory) as session:
        first = deploy(session, kit.approval_files(), forms_dir=forms)
    review = json.loads((forms / "review.json").read_text())
    review["properties"]["note"]["maxLength"] = 50
    (forms / "review.json").write_text(json.dumps(review))
    with write_session(session_factory) as session:
        second = deploy(session, kit.approval_files(), forms_dir=forms)
        assert second.created and second.versions[0].version == first.versions[0].version + 1
        assert second.deployment.forms["review.json"]["properties"]["note"]["maxLength"] == 50
