"""Issue 4, whistle page: the diagrams show where the whistle stands, in the main process too (the
call activity under way, the event it waits for) and not only the ready tasks of a called process."""
from __future__ import annotations

import pytest

from engine.db import write_session
from engine import runtime
from governance import workspace
from governance.models import Whistle
from tests.webkit import advance, prepare_database, ready, report


LOCAL_RESULT = {"resolved_on": "2026-11-27", "result": "已修复", "reply": "问题已在社区解决。"}


@pytest.fixture
def factory(db_url):
    factory = prepare_database(db_url)
    yield factory
    factory.kw["bind"].dispose()


def positions(factory, whistle_id) -> dict[str, list[str]]:
    with factory() as session:
        return {d["name"]: d["active"] for d in workspace.diagrams(session, session.get(Whistle, whistle_id))}


def test_a_new_whistle_is_marked_at_triage(factory):
    wid, _, _ = report(factory)
    assert positions(factory, wid) == {"whistle.bpmn": ["triage"]}


def test_during_handling_the_main_diagram_marks_the_call_activity(factory):
    wid, iid, _ = report(factory)
    advance(factory, iid, "report_for_duty")
    marked = positions(factory, wid)
    assert list(marked) == ["whistle.bpmn", "handling.bpmn"]          # the main process first
    assert marked["whistle.bpmn"] == ["handling"]
    assert marked["handling.bpmn"] == ["report_for_duty"]   # every department reports first; no boundary timers


def test_a_hard_issue_waiting_for_the_joint_meeting_marks_the_waiting(factory):
    wid, iid, _ = report(factory, title="小区停车难")
    [triage] = ready(factory, iid)
    with write_session(factory) as session:
        runtime.complete(session, triage.id, {"route": "hard", "reply": "提交联席会议研究"}, actor="test")
    assert ready(factory, iid) == []                                   # no task: it waits for the meeting date
    assert positions(factory, wid) == {"whistle.bpmn": ["wait_meeting"]}


def test_a_finished_whistle_marks_nothing(factory):
    wid, iid, _ = report(factory, title="就地解决")
    [row] = ready(factory, iid)
    with write_session(factory) as session:
        runtime.complete(session, row.id, {"route": "local", "reply": "社区就地处理"}, actor="test")
    assert positions(factory, wid) == {"whistle.bpmn": ["resolve_locally"]}
    [row] = ready(factory, iid)
    with write_session(factory) as session:
        instance = runtime.complete(session, row.id, LOCAL_RESULT, actor="test")
        assert instance.status == "completed"
    assert positions(factory, wid) == {"whistle.bpmn": []}
