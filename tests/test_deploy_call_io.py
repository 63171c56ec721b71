"""Diagrams (issue 9): a call activity passes only the variables its called process declares
(bpmn:ioSpecification dataInput / dataOutput); deploy refuses a call of a process that declares nothing."""
from __future__ import annotations

import pytest

from engine import registry
from engine.errors import DeployRefused
from tests import enginekit as kit
from tests.enginekit import bpmn, flow, service_task, user_task
from tests.procedure_kit import local, world  # noqa: F401  (fixture)

seen: list[dict] = []


@registry.handler("test.io_seen")
def io_seen(ctx) -> dict:
    """Remembers the data the step sees."""
    seen.append(dict(ctx.data))
    return {}


def io_spec(process_id: str, inputs=(), outputs=()) -> str:
    """The declarations of a called process (variable = the name; ids unique in the file)."""
    return (f'<bpmn:ioSpecification id="{process_id}_io">'
            + "".join(f'<bpmn:dataInput id="{process_id}_in_{v}" name="{v}"/>' for v in inputs)
            + "".join(f'<bpmn:dataOutput id="{process_id}_out_{v}" name="{v}"/>' for v in outputs)
            + f'<bpmn:inputSet id="{process_id}_in">'
            + "".join(f"<bpmn:dataInputRefs>{process_id}_in_{v}</bpmn:dataInputRefs>" for v in inputs)
            + f'</bpmn:inputSet><bpmn:outputSet id="{process_id}_out">'
            + "".join(f"<bpmn:dataOutputRefs>{process_id}_out_{v}</bpmn:dataOutputRefs>" for v in outputs)
            + "</bpmn:outputSet></bpmn:ioSpecification>")


def caller() -> bytes:
    return bpmn('<bpmn:startEvent id="s"/><bpmn:callActivity id="call_callee" calledElement="callee"/>'
                + service_task("after", "test.io_seen") + '<bpmn:endEvent id="e"/>'
                + flow("f1", "s", "call_callee") + flow("f2", "call_callee", "after") + flow("f3", "after", "e"),
                process_id="io_caller")


def callee(declarations: str) -> bytes:
    return bpmn(declarations + '<bpmn:startEvent id="cs"/>' + service_task("look", "test.io_seen")
                + user_task("inner") + '<bpmn:endEvent id="ce"/>'
                + flow("c1", "cs", "look") + flow("c2", "look", "inner") + flow("c3", "inner", "ce"),
                process_id="callee")


def test_diagrams_call_activity_passes_only_declared_inputs_and_outputs(session_factory):
    seen.clear()
    kit.deploy_files(session_factory, {"caller.bpmn": caller(),
                                       "callee.bpmn": callee(io_spec("callee", ["team_id", "amount", "note"], ["note"]))})
    instance_id = kit.start(session_factory, "io_caller",
                            {"team_id": "t1", "amount": 5, "secret": "caller only", "decision": "stale", "note": "in"})
    assert seen[-1] == {"team_id": "t1", "amount": 5, "note": "in"}, "the called process sees only its declared inputs"
    [task] = kit.inbox(session_factory, instance_id)
    assert (task.task, task.unit_id) == ("inner", "t1")
    kit.complete(session_factory, task.id, {"decision": "approve", "note": "done inside"})
    after = seen[-1]
    assert after["note"] == "done inside", "a declared output comes back"
    assert after["decision"] == "stale", "an undeclared variable of the called process stays there"
    assert after["secret"] == "caller only" and after["amount"] == 5, "the caller keeps its own data"
    assert kit.get_instance(session_factory, instance_id).status == "completed"


def test_diagrams_empty_declarations_pass_nothing(session_factory):
    seen.clear()
    kit.deploy_files(session_factory, {"caller.bpmn": caller(),
                                       "callee.bpmn": callee(io_spec("callee", ["team_id"], []))})
    instance_id = kit.start(session_factory, "io_caller", {"team_id": "t1", "secret": "caller only"})
    [task] = kit.inbox(session_factory, instance_id)
    kit.complete(session_factory, task.id, {"decision": "approve", "note": "x"})
    assert "decision" not in seen[-1] and "note" not in seen[-1] and seen[-1]["secret"] == "caller only"


def test_diagrams_call_of_a_process_without_declarations_is_refused(session_factory):
    with pytest.raises(DeployRefused) as info:
        kit.deploy_files(session_factory, {"caller.bpmn": caller(), "callee.bpmn": callee("")})
    [problem] = info.value.problems
    assert (problem.file, problem.element) == ("caller.bpmn", "call_callee") and problem.line
    assert "callee" in problem.message and "ioSpecification" in problem.message
    # a called process deployed earlier without declarations is refused the same way
    kit.deploy_files(session_factory, {"callee.bpmn": callee("")})
    with pytest.raises(DeployRefused) as info:
        kit.deploy_files(session_factory, {"caller.bpmn": caller()})
    assert [p.element for p in info.value.problems] == ["call_callee"]


def _task_data(world, username: str, task: str, w) -> dict:
    from engine import runtime
    from engine.models import Instance
    task_id = world.task_id(username, task, w)
    with world.factory() as session:
        return runtime.task_data(session, session.get(Instance, world.whistle(w).instance_id), task_id)


def test_diagrams_dispatch_and_handling_get_the_case_not_the_earlier_answers(world):
    """The real diagrams: dispatch and handling see the whistle's facts, not what the community
    and the street answered before (a stale `decision` or `outcome` cannot steer their gateways)."""
    w = world.report("井盖缺失（数据传递）", at=local(2026, 11, 2, 9), community_id="hs-jfl-sq3")
    world.to_street_review(w, local(2026, 11, 3, 9))
    world.start_procedure(w, local(2026, 11, 4, 9), lead="hs-cgj", cooperating=["hs-zjj"])
    propose = _task_data(world, "zzb-hs", "propose", w)
    assert propose["whistle_id"] == world.whistle(w).id and propose["level"] == "district"
    assert propose["lead_department_id"] == "hs-cgj" and propose["cooperating_department_ids"] == ["hs-zjj"]
    assert not {"route", "reply", "outcome", "decision", "result"} & set(propose), sorted(propose)
    world.dispatch(w, local(2026, 11, 6, 10), lead="hs-cgj", cooperating=["hs-zjj"])
    duty = _task_data(world, "bm-hs-cgj", "report_for_duty", w)
    assert duty["task_order_no"] == world.whistle(w).task_order_no and duty["report_due"]
    assert not {"route", "reply", "outcome", "decision", "answer"} & set(duty), sorted(duty)
