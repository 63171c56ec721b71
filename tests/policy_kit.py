"""Support for the policy-staff and administrator tests: a site over a demo database with its own
copies of processes/ and forms/ (so editing them never touches the repository), API tokens, CSRF
headers, and a small probe process whose service task fails until its cause is fixed."""
from __future__ import annotations

import re
from contextlib import contextmanager

from engine import registry
from tests.webkit import csrf_token, demo_app, logged_in  # noqa: F401  (logged_in: for the tests)

OFFICER = "sq-hs-jfl-sq1"        # a community officer: neither policy staff nor administrator
COMMUNITY = "hs-jfl-sq1"


@registry.handler("probe.record")
def probe_record(amount) -> dict:
    """Records an amount; refuses a negative one (the cause an administrator fixes)."""
    if amount is None or amount < 0:
        raise ValueError(f"amount must not be negative: {amount!r}")
    return {"recorded": amount}


@registry.handler("probe.noop")
def probe_noop() -> dict:
    """Does nothing."""
    return {}


class Site:
    def __init__(self, app, factory, tmp_path):
        self.app, self.factory = app, factory
        self.forms = tmp_path / "forms"
        self.processes = tmp_path / "processes"


@contextmanager
def policy_site(db_url, tmp_path):
    """A Site over a demo database whose forms/ and processes/ are copies in `tmp_path`."""
    with demo_app(db_url, tmp_path, editable=True) as (app, factory):
        yield Site(app, factory, tmp_path)


def token(client, username, password="demo1234") -> dict:
    response = client.post("/api/v1/session", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": "Bearer " + response.get_json()["token"]}


def csrf_headers(client, page="/inbox") -> dict:
    html = client.get(page).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    return {"X-CSRFToken": match.group(1) if match else csrf_token(html)}


def post_form(client, url, data, page="/inbox"):
    token_value = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token_value})


def upload(client, headers, files: dict[str, bytes | str], url="/api/v1/processes"):
    import io
    payload = {"files": [(io.BytesIO(c.encode() if isinstance(c, str) else c), n) for n, c in files.items()]}
    return client.post(url, headers=headers, data=payload, content_type="multipart/form-data")


# -- the probe process -------------------------------------------------------------------------------

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def probe(review_name: str = "复核", extra_step: bool = False) -> str:
    """start → record (probe.record(amount)) → review (community user task) → finish (noop)
    [→ check (user task), with extra_step] → end."""
    tail = ('<bpmn:sequenceFlow id="f4" sourceRef="finish" targetRef="check"/>'
            '<bpmn:userTask id="check" name="抽查"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="formJsonSchemaFilename" value="triage.json"/>'
            '<spiffworkflow:property name="role" value="community"/>'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>'
            '<bpmn:sequenceFlow id="f5" sourceRef="check" targetRef="end"/>') if extra_step else \
        '<bpmn:sequenceFlow id="f4" sourceRef="finish" targetRef="end"/>'
    return f'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS} id="probe_defs" targetNamespace="http://whistle.example/test/probe">
<bpmn:process id="probe" name="探针流程" isExecutable="true">
<bpmn:startEvent id="start"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="record"/>
<bpmn:serviceTask id="record" name="登记"><bpmn:extensionElements>
<spiffworkflow:serviceTaskOperator id="probe.record"><spiffworkflow:parameters>
<spiffworkflow:parameter id="amount" type="int" value="amount"/>
</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>
<bpmn:sequenceFlow id="f2" sourceRef="record" targetRef="review"/>
<bpmn:userTask id="review" name="{review_name}"><bpmn:extensionElements><spiffworkflow:properties>
<spiffworkflow:property name="formJsonSchemaFilename" value="triage.json"/>
<spiffworkflow:property name="role" value="community"/>
</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>
<bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="finish"/>
<bpmn:serviceTask id="finish" name="完成"><bpmn:extensionElements>
<spiffworkflow:serviceTaskOperator id="probe.noop"><spiffworkflow:parameters/></spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>
{tail}
<bpmn:endEvent id="end"/>
</bpmn:process>
</bpmn:definitions>
'''
