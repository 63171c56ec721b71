"""Process versions for policy staff: the list with instance counts, the BPMN text, the diff of two
versions and rollback."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import admin, versions
from engine.db import write_session
from engine.deploy import deploy
from engine.models import AuditEvent, ProcessVersion
from tests import enginekit as kit
from tests.test_engine_admin import APPROVAL, CHECK_TASK, act, at_review, variant, version_id, with_check


@pytest.fixture
def factory(session_factory):
    kit.deploy_files(session_factory, kit.approval_files())
    kit.calls.clear()
    kit.failing["record"] = False
    return session_factory


def changed_a_lot() -> dict[str, bytes]:
    """'check' added, the reminder's end event removed, the timer and a condition changed."""
    return variant(('targetRef="record">', 'targetRef="check">'), ('<bpmn:endEvent id="end">', CHECK_TASK),
                   ("<bpmn:flowNodeRef>end</bpmn:flowNodeRef>",
                    "<bpmn:flowNodeRef>end</bpmn:flowNodeRef><bpmn:flowNodeRef>check</bpmn:flowNodeRef>"),
                   ('<bpmn:endEvent id="remind_end"><bpmn:incoming>f_late2</bpmn:incoming></bpmn:endEvent>', ""),
                   ('<bpmn:sequenceFlow id="f_late2" sourceRef="remind" targetRef="remind_end"/>', ""),
                   ("<bpmn:flowNodeRef>remind_end</bpmn:flowNodeRef>", ""),
                   ('<bpmn:incoming>f_late</bpmn:incoming><bpmn:outgoing>f_late2</bpmn:outgoing>',
                    '<bpmn:incoming>f_late</bpmn:incoming>'),
                   ('"P2D"', '"P3D"'),
                   ("decision == 'approve'", "decision == 'approve' and amount &gt; 0"),
                   ('<spiffworkflow:parameter id="who" type="str" value="\'manager\'"/>',
                    '<spiffworkflow:parameter id="who" type="str" value="\'the manager\'"/>'))


def test_list_processes_counts_instances_per_version(factory):
    first = [at_review(factory) for _ in range(2)]
    done = at_review(factory)
    kit.complete(factory, kit.inbox(factory, done)[0].id, {"decision": "approve"})
    kit.deploy_files(factory, with_check())
    kit.start(factory)
    act(factory, admin.cancel, first[0], reason="duplicate")
    with factory() as session:
        [process] = versions.list_processes(session)
    assert (process["process_id"], process["name"], process["latest_version"]) == ("approval", "Approval", 2)
    v2, v1 = process["versions"]
    assert (v2["version"], v2["latest"], v2["instances"], v2["open"], v2["deployed_by"]) == (2, True, 1, 1, "tester")
    assert (v1["version"], v1["latest"], v1["instances"], v1["open"]) == (1, False, 3, 1)
    assert v1["by_status"] == {"running": 1} and v1["deployed_at"] is not None
    assert process["latest_version_id"] == v2["id"]


def test_version_file_is_the_deployed_text(factory):
    with factory() as session:
        text = versions.version_file(session, version_id(factory, 1))
        assert text == APPROVAL
        files = versions.version_files(session, version_id(factory, 1))
        assert files["file"] == "approval.bpmn" and files["files"] == {"approval.bpmn": APPROVAL}


def test_diff_shows_added_removed_and_changed_elements(factory):
    kit.deploy_files(factory, changed_a_lot())
    with factory() as session:
        diff = versions.diff_versions(session, version_id(factory, 1), version_id(factory, 2))
    assert (diff["from"]["version"], diff["to"]["version"]) == (1, 2)
    assert {e["id"] for e in diff["added"]} == {"check", "f_chk"}
    assert [e["tag"] for e in diff["added"] if e["id"] == "check"] == ["userTask"]
    assert {e["id"] for e in diff["removed"]} == {"remind_end", "f_late2"}
    changed = {e["id"]: {c["field"]: (c["before"], c["after"]) for c in e["changes"]} for e in diff["changed"]}
    assert set(changed) == {"f_ok", "review_late", "remind", "manager"}
    assert changed["f_ok"]["@targetRef"] == ("record", "check")
    assert changed["f_ok"]["conditionExpression"] == ("decision == 'approve'", "decision == 'approve' and amount > 0")
    assert changed["review_late"]["timerEventDefinition/timeDuration"] == ('"P2D"', '"P3D"')
    assert changed["remind"]["extensionElements/serviceTaskOperator/parameters/parameter[who]@value"] == (
        "'manager'", "'the manager'")
    assert "check" in changed["manager"]["flowNodeRef"][1] and "remind_end" in changed["manager"]["flowNodeRef"][0]
    with factory() as session:
        same = versions.diff_versions(session, version_id(factory, 1), version_id(factory, 1))
    assert same["added"] == same["removed"] == same["changed"] == []


def test_diff_names_form_role_and_handler_changes(factory):
    files = variant(('value="review.json"', 'value="submit.json"'),
                    ('<spiffworkflow:serviceTaskOperator id="test.record">', '<spiffworkflow:serviceTaskOperator id="test.noop">'),
                    ('<spiffworkflow:parameter id="amount" type="int" value="amount"/>', ''),
                    ('<bpmn:userTask id="submit" name="Submit">', '<bpmn:userTask id="submit" name="Hand in">'))
    kit.deploy_files(factory, files)
    with factory() as session:
        diff = versions.diff_versions(session, version_id(factory, 1), version_id(factory, 2))
    changed = {e["id"]: {c["field"]: (c["before"], c["after"]) for c in e["changes"]} for e in diff["changed"]}
    assert changed["review"] == {"extensionElements/properties/property[formJsonSchemaFilename]@value":
                                 ("review.json", "submit.json")}
    assert changed["record"]["extensionElements/serviceTaskOperator@id"] == ("test.record", "test.noop")
    assert changed["record"]["extensionElements/serviceTaskOperator/parameters/parameter[amount]@value"] == ("amount", None)
    assert changed["submit"] == {"@name": ("Submit", "Hand in")}


def test_rollback_deploys_the_old_content_as_a_new_version(factory):
    kit.deploy_files(factory, with_check())
    v1, v2 = version_id(factory, 1), version_id(factory, 2)
    with write_session(factory) as session:
        result = versions.rollback(session, v1, reason="the check step is not wanted", actor="policy")
        assert result.created and [v.version for v in result.versions] == [3]
        v3 = result.versions[0].id
    with factory() as session:
        assert versions.version_file(session, v3) == versions.version_file(session, v1)
        assert versions.diff_versions(session, v1, v3)["changed"] == []
        [process] = versions.list_processes(session)
        assert process["latest_version"] == 3 and process["versions"][0]["deployed_by"] == "policy"
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "rollback")).all()
        assert event.reason == "the check step is not wanted" and event.detail["to_content_of"] == 1
    # new instances run the rolled back content: no 'check' step
    instance_id = at_review(factory)
    assert kit.get_instance(factory, instance_id).process_version_id == v3
    kit.complete(factory, kit.inbox(factory, instance_id)[0].id, {"decision": "approve"})
    assert kit.get_instance(factory, instance_id).status == "completed"
    # the latest content again, by rollback or deploy: nothing new
    with write_session(factory) as session:
        assert not versions.rollback(session, v1, reason="again", actor="policy").created
        assert not deploy(session, kit.approval_files(), forms_dir=kit.FORMS).created
        # rolling forward to v2's content is a rollback too
        assert [v.version for v in versions.rollback(session, v2, reason="we want it after all").versions] == [4]
    with factory() as session:
        assert session.scalar(select(ProcessVersion.version).order_by(ProcessVersion.version.desc()).limit(1)) == 4


def test_rollback_needs_a_reason_and_an_existing_version(factory):
    with write_session(factory) as session:
        with pytest.raises(admin.ReasonRequired):
            versions.rollback(session, version_id(factory, 1), reason=" ")
        from engine.errors import NotFound
        with pytest.raises(NotFound):
            versions.rollback(session, 999, reason="why not")
