"""Test support for the engine: roles and handlers of a neutral test vocabulary, small diagram
builders and shortcuts for deploying and driving instances."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from engine import registry, runtime
from engine.db import write_session
from engine.deploy import deploy
from engine.models import AuditEvent, Deployment, InboxTask, Instance, Timer

HERE = Path(__file__).resolve().parent
DIAGRAMS = HERE / "diagrams"
FORMS = HERE / "forms"
CORPUS = HERE.parent.parent / "shared" / "corpus"

calls: list[tuple] = []
failing = {"record": False}

registry.register_role("clerk", "clerk_unit")
registry.register_role("manager", "team_id")


@registry.handler("test.remind")
def remind(who: str, ctx) -> dict:
    calls.append(("remind", ctx.instance_id, who))
    return {"reminded": who}


@registry.handler("test.record")
def record(amount: int) -> dict:
    if failing["record"]:
        raise RuntimeError("the records office is closed")
    calls.append(("record", amount))
    return {"recorded": amount}


@registry.handler("test.noop")
def noop() -> dict:
    return {}


NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def bpmn(process_body: str, process_id: str = "p", extra: str = "") -> bytes:
    """A BPMN document with one executable process."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS} id="defs_{process_id}" '
            f'targetNamespace="http://example.org/test">\n'
            f'<bpmn:process id="{process_id}" isExecutable="true">\n{process_body}\n</bpmn:process>\n{extra}'
            f'</bpmn:definitions>\n').encode()


def user_task(task_id: str, form: str = "review.json", extra_props: str = "") -> str:
    return (f'<bpmn:userTask id="{task_id}" name="{task_id}"><bpmn:extensionElements><spiffworkflow:properties>'
            f'<spiffworkflow:property name="formJsonSchemaFilename" value="{form}"/>'
            f'<spiffworkflow:property name="role" value="manager"/>{extra_props}'
            f'</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>')


def service_task(task_id: str, handler: str, params: str = "") -> str:
    return (f'<bpmn:serviceTask id="{task_id}"><bpmn:extensionElements>'
            f'<spiffworkflow:serviceTaskOperator id="{handler}"><spiffworkflow:parameters>{params}'
            f'</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>')


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    cond = f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>" if condition else ""
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">{cond}</bpmn:sequenceFlow>'


def approval_files() -> dict[str, bytes]:
    return {"approval.bpmn": (DIAGRAMS / "approval.bpmn").read_bytes()}


def deploy_files(factory, files: dict[str, bytes]):
    with write_session(factory) as session:
        return deploy(session, files, forms_dir=FORMS, actor="tester")


def start(factory, process_id="approval", data=None, now=None):
    with write_session(factory) as session:
        return runtime.start(session, process_id, data if data is not None else {"clerk_unit": "u1"},
                             actor="alice", now=now).id


def inbox(factory, instance_id=None) -> list[InboxTask]:
    with factory() as session:
        query = select(InboxTask).order_by(InboxTask.created_at)
        if instance_id is not None:
            query = query.where(InboxTask.instance_id == instance_id)
        return list(session.scalars(query))


def complete(factory, task_uuid, data, actor="alice", now=None):
    with write_session(factory) as session:
        return runtime.complete(session, task_uuid, data, actor=actor, now=now)


def get_instance(factory, instance_id) -> Instance:
    with factory() as session:
        return session.get(Instance, instance_id, options=[joinedload(Instance.version)])


def count(factory, model) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def timers(factory, instance_id=None) -> list[Timer]:
    with factory() as session:
        query = select(Timer)
        if instance_id is not None:
            query = query.where(Timer.instance_id == instance_id)
        return list(session.scalars(query))


def audit_trail(factory, instance_id) -> list[AuditEvent]:
    with factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                                    .order_by(AuditEvent.id)))


def deployments(factory) -> int:
    return count(factory, Deployment)
