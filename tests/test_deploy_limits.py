"""Issue 10: what policy staff deploy is bounded — a timer must be able to yield a duration or a
date, an expression that reads no data must stay within one evaluation's limits, processes nest at
most MAX_NESTING levels, XML at most MAX_XML_DEPTH; a timer whose data key holds no date at run
time becomes an incident that says so."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from engine.nesting import MAX_NESTING
from engine.parsing import MAX_XML_DEPTH
from tests import enginekit as kit
from tests.enginekit import bpmn, flow
from tests.policy_kit import policy_site, token, upload
from tests.test_deploy_call_io import io_spec
from tests.test_engine_deploy import refused

AT = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def timer_diagram(kind: str, expression: str, process_id: str = "t") -> bytes:
    return bpmn('<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="wait" name="等待">'
                f'<bpmn:timerEventDefinition><bpmn:{kind}>{expression}</bpmn:{kind}></bpmn:timerEventDefinition>'
                '</bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>' + flow("f1", "s", "wait")
                + flow("f2", "wait", "e"), process_id=process_id)


# -- timers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, expression, code", [
    ("timeDuration", "P-banana", "timer_not_text"),
    ("timeDuration", "'P-banana'", "timer_bad_duration"),
    ("timeDuration", '"P99999999Y"', "timer_bad_duration"),
    ("timeDate", "'2026-13-45'", "timer_bad_date"),
    ("timeCycle", "'R3/banana'", "timer_bad_cycle"),
    ("timeDate", "7 * 24", "timer_bad_date"),
])
def test_deploy_refuses_a_timer_that_cannot_yield_a_duration_or_date(session_factory, kind, expression, code):
    [problem] = refused(session_factory, {"t.bpmn": timer_diagram(kind, expression)})
    assert (problem.file, problem.element, problem.code) == ("t.bpmn", "wait", code)
    assert problem.line and "ISO-8601" in problem.message


@pytest.mark.parametrize("kind, expression", [
    ("timeDuration", "'P7D'"), ("timeDate", "'2026-03-01T09:00:00+08:00'"), ("timeCycle", "'R3/PT1H'"),
    ("timeDate", "due"), ("timeDuration", "'P' + str(days) + 'D'"),
])
def test_deploy_accepts_timers_that_can(session_factory, kind, expression):
    assert kit.deploy_files(session_factory, {"t.bpmn": timer_diagram(kind, expression)}).created


@pytest.mark.parametrize("kind, value", [("timeDate", "banana"), ("timeDate", "2026-13-45"),
                                         ("timeDuration", "P-banana"), ("timeDuration", 7)])
def test_a_timer_data_key_without_a_date_becomes_a_readable_incident(session_factory, kind, value):
    kit.deploy_files(session_factory, {"t.bpmn": timer_diagram(kind, "due")})
    instance_id = kit.start(session_factory, "t", {"due": value}, now=AT)
    instance = kit.get_instance(session_factory, instance_id)
    assert instance.status == "incident"
    message = instance.incident["message"]
    assert "timer 'wait' (等待): due gives " + repr(str(value)) in message and f"not an ISO-8601 {kind[4:].lower()}" in message
    assert instance.incident["task"] == "wait"             # the timer, not the task that ran before it
    assert kit.timers(session_factory, instance_id) == []


def test_a_timer_data_key_with_a_date_still_waits(session_factory):
    kit.deploy_files(session_factory, {"t.bpmn": timer_diagram("timeDate", "due")})
    instance_id = kit.start(session_factory, "t", {"due": "2026-03-09T09:00:00+08:00"}, now=AT)
    assert kit.get_instance(session_factory, instance_id).status != "incident"
    [timer] = kit.timers(session_factory, instance_id)
    assert timer.task == "wait"


# -- expressions that read no data ------------------------------------------------------------------

def test_deploy_refuses_a_constant_condition_beyond_the_evaluation_limits(session_factory):
    body = ('<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g" default="f_no"/>'
            '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>'
            + flow("f1", "s", "g") + flow("f_yes", "g", "yes", "len([[1]*3000]*3000) &gt; 0") + flow("f_no", "g", "no"))
    started = time.perf_counter()
    [problem] = refused(session_factory, {"c.bpmn": bpmn(body)})
    assert time.perf_counter() - started < 5
    assert (problem.element, problem.code) == ("f_yes", "expression_limit") and problem.line
    assert "value too large" in problem.message


def test_a_condition_over_data_beyond_the_limits_becomes_a_readable_incident(session_factory):
    body = ('<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g" default="f_no"/>'
            '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>'
            + flow("f1", "s", "g") + flow("f_yes", "g", "yes", "len([[1]*n]*n) &gt; 0") + flow("f_no", "g", "no"))
    kit.deploy_files(session_factory, {"c.bpmn": bpmn(body, process_id="c")})   # reads data: deploys
    assert kit.get_instance(session_factory, kit.start(session_factory, "c", {"n": 3}, now=AT)).status == "completed"
    started = time.perf_counter()
    instance = kit.get_instance(session_factory, kit.start(session_factory, "c", {"n": 3000}, now=AT))
    assert time.perf_counter() - started < 2
    assert instance.status == "incident"
    assert "value too large (at most 100000 elements and characters): 'len([[1]*n]*n) > 0'" \
        in instance.incident["message"]


# -- nesting -----------------------------------------------------------------------------------------

def embedded_nest(levels: int, process_id: str = "nest", declared: bool = False) -> bytes:
    """A process whose subprocesses nest `levels` deep, one element on a line."""
    inner = ""
    for level in range(levels, 0, -1):
        target = f"sub{level + 1}" if inner else f"e{level}"
        inner = (f'<bpmn:subProcess id="sub{level}">\n<bpmn:startEvent id="s{level}"/>\n{inner}\n'
                 f'<bpmn:endEvent id="e{level}"/>\n{flow(f"fa{level}", f"s{level}", target)}\n'
                 + (flow(f"fb{level}", target, f"e{level}") if target != f"e{level}" else "")
                 + '</bpmn:subProcess>')
    return bpmn((io_spec(process_id) if declared else "") + '<bpmn:startEvent id="s"/>\n' + inner
                + '\n<bpmn:endEvent id="e"/>' + flow("fa", "s", "sub1") + flow("fb", "sub1", "e"),
                process_id=process_id)


def call_chain(first: int, last: int) -> dict[str, bytes]:
    """Processes c{first} … c{last}, each calling the next; one file each."""
    files = {}
    for n in range(first, last + 1):
        s, e, call = f"c{n}_s", f"c{n}_e", f"call_c{n + 1}"
        if n < last:
            body = (f'<bpmn:startEvent id="{s}"/><bpmn:callActivity id="{call}" calledElement="c{n + 1}"/>'
                    f'<bpmn:endEvent id="{e}"/>' + flow(f"c{n}_f1", s, call) + flow(f"c{n}_f2", call, e))
        else:
            body = f'<bpmn:startEvent id="{s}"/><bpmn:endEvent id="{e}"/>' + flow(f"c{n}_f1", s, e)
        files[f"c{n}.bpmn"] = bpmn(io_spec(f"c{n}") + body, process_id=f"c{n}")
    return files


def test_subprocesses_nested_within_the_limit_deploy(session_factory):
    assert kit.deploy_files(session_factory, {"nest.bpmn": embedded_nest(MAX_NESTING)}).created


def test_subprocesses_nested_beyond_the_limit_are_refused_naming_the_outermost(session_factory):
    [problem] = refused(session_factory, {"nest.bpmn": embedded_nest(MAX_NESTING + 4)})
    assert (problem.file, problem.element, problem.code) == ("nest.bpmn", "sub1", "nesting_too_deep")
    assert problem.line and f"more than {MAX_NESTING} levels" in problem.message
    assert "nest → sub1 → sub2" in problem.message
    assert problem.params["limit"] == MAX_NESTING


def test_a_200_level_subprocess_nest_is_refused_as_too_deep_xml(session_factory):
    started = time.perf_counter()
    [problem] = refused(session_factory, {"nest.bpmn": embedded_nest(200)})
    assert time.perf_counter() - started < 5
    assert problem.file == "nest.bpmn" and problem.line
    assert f"nested more than {MAX_XML_DEPTH} deep" in problem.message


def test_call_activity_chain_within_the_limit_deploys(session_factory):
    assert kit.deploy_files(session_factory, call_chain(0, MAX_NESTING)).created      # c0 nests 8 deep


def one_file(files: dict[str, bytes]) -> bytes:
    """The processes of several single-process documents in one document."""
    processes = [text.decode().split("\n", 2)[2].rsplit("</bpmn:definitions>", 1)[0] for text in files.values()]
    return bpmn("").decode().split('<bpmn:process id="p"', 1)[0].encode() + "".join(processes).encode() \
        + b"</bpmn:definitions>\n"


def test_a_200_process_call_chain_is_refused_once_naming_the_top_call(session_factory):
    [problem] = refused(session_factory, {"chain.bpmn": one_file(call_chain(0, 199))})
    assert (problem.file, problem.element, problem.code) == ("chain.bpmn", "call_c1", "nesting_too_deep")
    assert problem.message.startswith("process 'c0' nests")
    assert "c0 → call_c1 (c1) → call_c2 (c2)" in problem.message


def test_the_limit_counts_processes_deployed_earlier(session_factory):
    kit.deploy_files(session_factory, call_chain(1, MAX_NESTING + 1))     # c1 … c9: c1 nests 8 deep
    [problem] = refused(session_factory, {"c0.bpmn": call_chain(0, 1)["c0.bpmn"]})
    assert (problem.element, problem.code) == ("call_c1", "nesting_too_deep")


def test_a_subprocess_inside_a_called_process_counts_too(session_factory):
    called = embedded_nest(MAX_NESTING, declared=True)
    caller = bpmn('<bpmn:startEvent id="s"/><bpmn:callActivity id="call_nest" calledElement="nest"/>'
                  '<bpmn:endEvent id="e"/>' + flow("f1", "s", "call_nest") + flow("f2", "call_nest", "e"),
                  process_id="top")
    [problem] = refused(session_factory, {"nest.bpmn": called, "top.bpmn": caller})
    assert (problem.file, problem.element, problem.code) == ("top.bpmn", "call_nest", "nesting_too_deep")


# -- said in the reader's language ---------------------------------------------------------------------

@pytest.fixture
def site(db_url, tmp_path):
    with policy_site(db_url, tmp_path) as s:
        yield s


def test_upload_refusals_are_said_in_chinese_and_in_english(site):
    client = site.app.test_client()
    staff = token(client, "policy")
    files = {**call_chain(0, MAX_NESTING + 1), "t.bpmn": timer_diagram("timeDuration", "'P-banana'")}
    response = upload(client, staff, files)
    assert response.status_code == 422
    errors = {e["element"]: e for e in response.get_json()["errors"]}
    assert "不是有效的 ISO 8601 时长" in errors["wait"]["message"] and errors["wait"]["line"]
    english = upload(client, {**staff, "Accept-Language": "en"}, files)
    errors = {e["element"]: e for e in english.get_json()["errors"]}
    assert "is not a valid ISO 8601 duration" in errors["wait"]["message"]
    nesting = upload(client, staff, call_chain(0, MAX_NESTING + 1))
    [error] = nesting.get_json()["errors"]
    assert error["file"] == "c0.bpmn" and error["element"] == "call_c1"
    assert f"嵌套超过 {MAX_NESTING} 层" in error["message"]
