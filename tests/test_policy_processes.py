"""Policy staff over HTTP: process list, check and deploy (API and modeler endpoints), errors on
elements, versions (download, diff, rollback), forms editor and the decision table. Running
instances keep their version and form; new whistles take the newest."""
import json
import re

import pytest
from sqlalchemy import select

from engine.models import FormVersion, InboxTask, Instance
from tests.policy_kit import (OFFICER, csrf_headers, logged_in, policy_site, post_form, token,
                              upload)
from tests.webkit import report

TRIAGE_OLD = '<bpmn:userTask id="triage" name="社区研判">'
TRIAGE_NEW = '<bpmn:userTask id="triage" name="社区研判（试行）">'
TIMER_OLD = '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">joint_meeting_at</bpmn:timeDate>'
TIMER_NEW = "<bpmn:timeDuration xsi:type=\"bpmn:tFormalExpression\">'P7D'</bpmn:timeDuration>"


@pytest.fixture
def site(db_url, tmp_path):
    with policy_site(db_url, tmp_path) as s:
        yield s


def whistle_xml(site, *replacements) -> str:
    text = (site.processes / "whistle.bpmn").read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


def embedded_xml(page) -> str:
    """The diagram a modeler or decision-table page opens (its JSON-embedded XML)."""
    match = re.search(r'<script type="application/json" data-xml>(.*?)</script>', page.get_data(as_text=True), re.S)
    return json.loads(match.group(1))


def versions_of(client, headers, process_id="whistle"):
    listing = client.get("/api/v1/processes", headers=headers)
    assert listing.status_code == 200
    return next(p for p in listing.get_json()["items"] if p["process_id"] == process_id)


def instance_of(site, instance_id):
    with site.factory() as session:
        instance = session.get(Instance, instance_id)
        tasks = session.scalars(select(InboxTask).where(InboxTask.instance_id == instance_id)).all()
        return instance.version.version, [(t.task, t.name) for t in tasks]


def test_edit_label_and_timer_deploy_new_whistles_use_new_version(site):
    client = site.app.test_client()
    staff = token(client, "policy")
    before = versions_of(client, staff)
    assert before["latest_version"] == 1 and before["versions"][0]["deployed_by"] == "test"
    _, old_instance, _ = report(site.factory)

    edited = whistle_xml(site, (TRIAGE_OLD, TRIAGE_NEW), (TIMER_OLD, TIMER_NEW))
    response = upload(client, staff, {"whistle.bpmn": edited})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["process_id"] == "whistle" and body["version"] == 2 and body["created"] is True
    assert response.headers["Location"].endswith(f"/api/v1/versions/{body['version_id']}")
    again = upload(client, staff, {"whistle.bpmn": edited})
    assert again.status_code == 200 and again.get_json()["created"] is False

    _, new_instance, _ = report(site.factory, title="新版本的事项")
    assert instance_of(site, new_instance) == (2, [("triage", "社区研判（试行）")])
    assert instance_of(site, old_instance) == (1, [("triage", "社区研判")])

    listing = versions_of(client, staff)
    assert listing["latest_version"] == 2
    v2, v1 = listing["versions"]
    assert (v2["latest"], v2["deployed_by"], v2["instances"], v2["open"]) == (True, "policy", 1, 1)
    assert (v1["latest"], v1["instances"]) == (False, 1)

    diff = client.get(f"/api/v1/versions/{v1['id']}/diff/{v2['id']}", headers=staff).get_json()
    changed = {c["id"]: c for c in diff["changed"]}
    assert {"triage", "wait_meeting"} <= set(changed)
    assert any(c["after"] == "社区研判（试行）" for c in changed["triage"]["changes"])
    assert any("'P7D'" == c["after"] for c in changed["wait_meeting"]["changes"])

    # the pages show it too: list with the latest marked, download, diff
    web = logged_in(site.app, "policy")
    page = web.get("/processes").get_data(as_text=True)
    assert "社区吹哨、部门报到" in page and "第 2 版" in page and 'data-testid="latest"' in page
    download = web.get(f"/processes/versions/{v1['id']}/download")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert TRIAGE_OLD in download.get_data(as_text=True)
    diff_page = web.get(f"/processes/versions/{v2['id']}/diff").get_data(as_text=True)
    assert "社区研判（试行）" in diff_page and "wait_meeting" in diff_page


def test_modeler_check_and_deploy_endpoints(site):
    web = logged_in(site.app, "policy")
    modeler = web.get("/processes/modeler?file=whistle.bpmn")
    assert modeler.status_code == 200 and "wr-modeler" in modeler.get_data(as_text=True)
    choices = web.get("/processes/choices.json").get_json()
    assert "triage.json" in {f["name"] for f in choices["forms"]}
    assert "deadline.next_joint_meeting" in {h["id"] for h in choices["handlers"]}
    assert {"community", "street", "department"} <= {r["id"] for r in choices["roles"]}
    headers = csrf_headers(web, "/processes/modeler")

    good = whistle_xml(site, (TRIAGE_OLD, TRIAGE_NEW))
    checked = web.post("/processes/check", json={"name": "whistle.bpmn", "xml": good}, headers=headers)
    assert checked.status_code == 200 and checked.get_json() == {"ok": True, "errors": []}
    deployed = web.post("/processes/deploy", json={"name": "whistle.bpmn", "xml": good}, headers=headers)
    assert deployed.status_code == 201, deployed.get_json()
    assert deployed.get_json()["version"] == 2
    # the deployment lives in the database, never in the source tree; the modeler reopens it from there
    assert TRIAGE_NEW not in (site.processes / "whistle.bpmn").read_text(encoding="utf-8")
    assert "社区研判（试行）" in embedded_xml(web.get("/processes/modeler?file=whistle.bpmn"))
    # without the CSRF header the modeler endpoints are refused
    assert web.post("/processes/check", json={"name": "x.bpmn", "xml": good}).status_code == 400


def test_broken_diagram_is_refused_with_errors_on_elements(site):
    client = site.app.test_client()
    staff = token(client, "policy")
    broken = whistle_xml(site,
                         ('value="triage.json"', 'value="missing_form.json"'),
                         ('<spiffworkflow:serviceTaskOperator id="deadline.next_joint_meeting">',
                          '<spiffworkflow:serviceTaskOperator id="os.system">'),
                         (TIMER_OLD, '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">${meeting}</bpmn:timeDate>'))
    response = upload(client, staff, {"whistle.bpmn": broken})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"]["code"] == "deploy_refused" and body["error"]["message"]
    by_element = {e["element"]: e for e in body["errors"]}
    assert "missing_form.json" in by_element["triage"]["message"]
    assert "os.system" in by_element["next_meeting"]["message"]
    assert "wait_meeting" in by_element
    assert all(e["line"] for e in body["errors"]) and all(e["file"] == "whistle.bpmn" for e in body["errors"])
    assert versions_of(client, staff)["latest_version"] == 1        # nothing stored

    web = logged_in(site.app, "policy")
    headers = csrf_headers(web, "/processes/modeler")
    checked = web.post("/processes/check", json={"name": "whistle.bpmn", "xml": broken}, headers=headers).get_json()
    assert checked["ok"] is False and {"triage", "next_meeting", "wait_meeting"} <= {e["element"] for e in checked["errors"]}
    refused = web.post("/processes/deploy", json={"name": "whistle.bpmn", "xml": broken}, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["errors"]
    assert 'value="triage.json"' in (site.processes / "whistle.bpmn").read_text(encoding="utf-8")

    # bad requests: no file, a bad name, not XML
    assert client.post("/api/v1/processes", headers=staff, data={}, content_type="multipart/form-data").status_code == 422
    named = upload(client, staff, {"bad name;.bpmn": broken}).get_json()
    assert "file name" in named["errors"][0]["message"]
    not_xml = upload(client, staff, {"x.bpmn": b"{\"not\": \"xml\"}"})
    assert not_xml.status_code == 422 and not_xml.get_json()["errors"][0]["message"]


def test_rollback_redeploys_old_content_as_newest(site):
    client = site.app.test_client()
    staff = token(client, "policy")
    assert upload(client, staff, {"whistle.bpmn": whistle_xml(site, (TRIAGE_OLD, TRIAGE_NEW))}).status_code == 201
    v1 = versions_of(client, staff)["versions"][-1]
    refused = client.post(f"/api/v1/versions/{v1['id']}/rollback", headers=staff, json={"reason": " "})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "reason"
    done = client.post(f"/api/v1/versions/{v1['id']}/rollback", headers=staff, json={"reason": "试行版本有误"})
    assert done.status_code == 201 and done.get_json()["version"] == 3
    _, instance, _ = report(site.factory)
    assert instance_of(site, instance) == (3, [("triage", "社区研判")])
    xml = client.get(f"/api/v1/versions/{done.get_json()['version_id']}", headers=staff).get_json()["xml"]
    assert TRIAGE_OLD in xml
    # through the page: a reason is required
    web = logged_in(site.app, "policy")
    no_reason = post_form(web, f"/processes/versions/{v1['id']}/rollback", {"reason": ""}, page="/processes")
    assert no_reason.status_code == 302
    assert "请填写回滚原因" in web.get("/processes").get_data(as_text=True)


def test_forms_editor_validates_previews_and_saves_for_the_next_deploy(site):
    web = logged_in(site.app, "policy")
    page = web.get("/processes/forms/triage.json").get_data(as_text=True)
    assert "研判结论" in page and 'data-testid="form-preview"' in page
    original = (site.forms / "triage.json").read_text(encoding="utf-8")

    bad = post_form(web, "/processes/forms/triage.json", {"schema": '{"type": "object", "properties": {"x": {"type": "nope"}}}'},
                    page="/processes/forms/triage.json")
    assert bad.status_code == 422 and "JSON Schema" in bad.get_data(as_text=True)
    not_json = post_form(web, "/processes/forms/triage.json", {"schema": "{oops"}, page="/processes/forms/triage.json")
    assert not_json.status_code == 422
    assert (site.forms / "triage.json").read_text(encoding="utf-8") == original

    preview = post_form(web, "/processes/forms/preview", {"schema": json.dumps(
        {"type": "object", "properties": {"note": {"type": "string", "title": "备注说明", "maxLength": 50}},
         "required": ["note"]})}, page="/processes/forms/triage.json")
    assert preview.status_code == 200 and "备注说明" in preview.get_data(as_text=True)

    schema = json.loads(original)
    schema["properties"]["reply"]["title"] = "答复居民（新）"
    saved = post_form(web, "/processes/forms/triage.json", {"schema": json.dumps(schema, ensure_ascii=False)},
                      page="/processes/forms/triage.json")
    assert saved.status_code == 302
    # stored as a version in the database, never written into forms/; the editor shows the saved version
    assert (site.forms / "triage.json").read_text(encoding="utf-8") == original
    with site.factory() as session:
        [row] = session.scalars(select(FormVersion).where(FormVersion.name == "triage.json")).all()
        assert (row.version, row.saved_by, row.schema["properties"]["reply"]["title"]) == (1, "policy", "答复居民（新）")
    assert "答复居民（新）" in web.get("/processes/forms/triage.json").get_data(as_text=True)

    # a running whistle keeps the form it was deployed with; the next deployment takes the new one
    _, old_instance, _ = report(site.factory)
    client = site.app.test_client()
    staff = token(client, "policy")
    assert upload(client, staff, {"whistle.bpmn": whistle_xml(site, (TRIAGE_OLD, TRIAGE_NEW))}).status_code == 201
    _, new_instance, _ = report(site.factory, title="新表单")
    officer = token(client, OFFICER)

    def reply_title(instance_id):
        with site.factory() as session:
            task_id = session.scalar(select(InboxTask.id).where(InboxTask.instance_id == instance_id))
        return client.get(f"/api/v1/tasks/{task_id}", headers=officer).get_json()["form"]["properties"]["reply"]["title"]

    assert reply_title(old_instance) == "答复居民"
    assert reply_title(new_instance) == "答复居民（新）"

    # a new form
    new_page = web.get("/processes/forms/new?fname=extra_task")
    assert new_page.status_code == 302 and "extra_task.json" in new_page.headers["Location"]
    assert web.get(new_page.headers["Location"]).status_code == 200
    assert web.get("/processes/forms/..%2Fsecret.json").status_code == 404


def test_decision_table_is_deployed_with_the_processes(site):
    web = logged_in(site.app, "policy")
    page = web.get("/processes/decisions")
    assert page.status_code == 200 and "data-dmn-editor" in page.get_data(as_text=True)
    headers = csrf_headers(web, "/processes/decisions")
    dmn = (site.processes / "decisions" / "priority.dmn").read_text(encoding="utf-8")
    broken = dmn.replace("<text>", "<text>${", 1)
    checked = web.post("/processes/decisions", json={"xml": broken, "check_only": True}, headers=headers)
    assert checked.status_code == 200 and checked.get_json()["ok"] is False and checked.get_json()["errors"]
    refused = web.post("/processes/decisions", json={"xml": broken}, headers=headers)
    assert refused.status_code == 422
    assert (site.processes / "decisions" / "priority.dmn").read_text(encoding="utf-8") == dmn

    edited = dmn.replace("</definitions>", "<!-- edited --></definitions>") if "</definitions>" in dmn else dmn + "\n"
    assert edited != dmn
    ok = web.post("/processes/decisions", json={"xml": edited, "check_only": True}, headers=headers)
    assert ok.get_json() == {"ok": True, "errors": []}
    deployed = web.post("/processes/decisions", json={"xml": edited}, headers=headers)
    assert deployed.status_code == 201, deployed.get_json()
    names = {v["process_id"] for v in deployed.get_json()["versions"]}
    assert {"whistle", "dispatch", "handling"} <= names
    # deployed into the database, not written into processes/; the editor opens the deployed table
    assert (site.processes / "decisions" / "priority.dmn").read_text(encoding="utf-8") == dmn
    assert embedded_xml(web.get("/processes/decisions")) == edited
    client = site.app.test_client()
    assert versions_of(client, token(client, "policy"))["latest_version"] == 2


def test_a_new_form_saved_in_the_database_can_be_used_by_a_diagram(site):
    """A form that exists only as a saved version (no file in forms/) is offered to the modeler and
    deployed with the diagram that uses it."""
    from tests.policy_kit import probe
    web = logged_in(site.app, "policy")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "抽查记录", "type": "object",
              "properties": {"finding": {"type": "string", "title": "抽查发现", "minLength": 1}},
              "required": ["finding"], "additionalProperties": False}
    saved = post_form(web, "/processes/forms/spot_check.json?new=1", {"schema": json.dumps(schema, ensure_ascii=False)},
                      page="/processes/forms/spot_check.json?new=1")
    assert saved.status_code == 302
    assert not (site.forms / "spot_check.json").exists()
    assert "spot_check.json" in {f["name"] for f in web.get("/processes/choices.json").get_json()["forms"]}
    assert "spot_check.json" in web.get("/processes/forms").get_data(as_text=True)
    xml = probe().replace('value="triage.json"', 'value="spot_check.json"')
    headers = csrf_headers(web, "/processes/modeler")
    deployed = web.post("/processes/deploy", json={"name": "probe.bpmn", "xml": xml}, headers=headers)
    assert deployed.status_code == 201, deployed.get_json()
    with site.factory() as session:
        from engine.models import ProcessVersion
        row = session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == "probe")).one()
        assert row.deployment.forms["spot_check.json"]["title"] == "抽查记录"
