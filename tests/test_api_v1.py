"""The JSON API /api/v1: every endpoint and error code, plus one run through a real HTTP server."""
import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from governance.models import Evaluation, Whistle
from tests.webkit import advance, demo_app, dispose, LiveServer, make_app, ready, report


@pytest.fixture
def api(db_url, tmp_path):
    with demo_app(db_url, tmp_path) as site:
        yield site


def token(client, username, password="demo1234"):
    response = client.post("/api/v1/session", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": "Bearer " + response.get_json()["token"]}


def error_code(response):
    body = response.get_json()
    assert set(body["error"]) == {"code", "message"} and body["error"]["message"]
    return body["error"]["code"]


def test_session_and_me(api):
    app, _ = api
    client = app.test_client()
    headers = token(client, "sq-hs-jfl-sq1")
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.get_json().items() >= {"username": "sq-hs-jfl-sq1", "role": "community", "unit_id": "hs-jfl-sq1",
                                      "unit_name": "湖北路社区"}.items()
    assert "Set-Cookie" not in me.headers


def test_session_errors(api):
    app, _ = api
    client = app.test_client()
    bad = client.post("/api/v1/session", json={"username": "sq-hs-jfl-sq1", "password": "nope"})
    assert bad.status_code == 401 and error_code(bad) == "bad_credentials"
    missing = client.post("/api/v1/session", json={"username": 5})
    assert missing.status_code == 422 and {e["field"] for e in missing.get_json()["errors"]} == {"username", "password"}
    broken = client.post("/api/v1/session", data="{not json", content_type="application/json")
    assert broken.status_code == 400 and error_code(broken) == "bad_json"
    array = client.post("/api/v1/session", json=[1, 2])
    assert array.status_code == 422
    assert client.post("/api/v1/session").status_code == 400


def test_unauthorized_and_bad_tokens(api):
    app, _ = api
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401 and error_code(response) == "unauthorized"
    expired = make_app(app.config["DATABASE_URL"], __import__("pathlib").Path("/tmp"), API_TOKEN_MAX_AGE=-1)
    c2 = expired.test_client()
    stale = token(c2, "sq-hs-jfl-sq1")
    assert c2.get("/api/v1/me", headers=stale).status_code == 401
    dispose(expired)


def test_messages_follow_accept_language(api):
    app, _ = api
    client = app.test_client()
    zh = client.get("/api/v1/me")
    en = client.get("/api/v1/me", headers={"Accept-Language": "en"})
    assert "登录" in zh.get_json()["error"]["message"]
    assert "log in" in en.get_json()["error"]["message"]


def test_report_whistle_and_read_it(api):
    app, factory = api
    client = app.test_client()
    headers = token(client, "wg-hs-jfl-sq1")
    created = client.post("/api/v1/whistles", headers=headers,
                          json={"title": "路面塌陷", "category": "道路设施", "description": "人行道塌陷", "location": "湖北路"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["whistle_no"].startswith("HS-") and body["instance_id"]
    assert created.headers["Location"].endswith(f"/api/v1/whistles/{body['id']}")
    record = client.get(f"/api/v1/whistles/{body['id']}", headers=headers)
    assert record.status_code == 200
    data = record.get_json()
    assert data["stage"] == "triage" and data["source"] == "api" and data["community_id"] == "hs-jfl-sq1"
    assert data["timeline"] and data["next_tasks"][0]["task"] == "triage"
    by_number = client.get(f"/api/v1/whistles/{body['whistle_no']}", headers=headers)
    assert by_number.status_code == 200 and by_number.get_json()["id"] == body["id"]


def test_report_whistle_errors(api):
    app, factory = api
    client = app.test_client()
    headers = token(client, "wg-hs-jfl-sq1")
    invalid = client.post("/api/v1/whistles", headers=headers,
                          json={"title": 42, "category": "火星", "community_id": "ys-am-sq1", "extra": 1})
    assert invalid.status_code == 422
    assert {e["field"] for e in invalid.get_json()["errors"]} == {"title", "category", "community_id", "extra"}
    assert client.post("/api/v1/whistles", headers=headers, json={}).status_code == 422
    huge = client.post("/api/v1/whistles", headers=headers, data=b"{" + b" " * (300 * 1024) + b"}",
                       content_type="application/json")
    assert huge.status_code == 413 and error_code(huge) == "too_large"
    dept = token(client, "bm-hs-cgj")
    forbidden = client.post("/api/v1/whistles", headers=dept, json={"title": "x"})
    assert forbidden.status_code == 403
    with factory() as session:
        assert session.scalar(select(Whistle)) is None       # nothing half-done


def test_whistle_visibility(api):
    app, factory = api
    wid, _, _ = report(factory)
    client = app.test_client()
    other = token(client, "sq-ys-am-sq1")
    assert client.get(f"/api/v1/whistles/{wid}", headers=other).status_code == 403
    assert client.get("/api/v1/whistles/99999", headers=other).status_code == 404
    city = token(client, "zzb-mas")
    assert client.get(f"/api/v1/whistles/{wid}", headers=city).status_code == 200


def test_tasks_list_detail_and_complete(api):
    app, factory = api
    wid, iid, _ = report(factory)
    client = app.test_client()
    headers = token(client, "sq-hs-jfl-sq1")
    listing = client.get("/api/v1/tasks", headers=headers).get_json()
    assert listing["total"] == 1
    item = listing["items"][0]
    assert item["task"] == "triage" and item["whistle_id"] == wid and item["instance_id"] == iid and "due_at" in item
    detail = client.get(f"/api/v1/tasks/{item['id']}", headers=headers).get_json()
    assert detail["form"]["properties"]["route"]["oneOf"][0]["const"] == "local"
    assert "data" in detail
    wrong = client.post(f"/api/v1/tasks/{item['id']}", headers=headers, json={"data": {"route": "moon", "reply": 7}})
    assert wrong.status_code == 422
    fields = {e["field"]: e["message"] for e in wrong.get_json()["errors"]}
    assert fields == {"route": "请从列表中选择一个有效的选项。", "reply": "请填写文字。"}
    assert client.post(f"/api/v1/tasks/{item['id']}", headers=headers, json={"data": "x"}).status_code == 422
    assert client.post(f"/api/v1/tasks/{item['id']}", headers=headers, data="[", content_type="application/json").status_code == 400
    done = client.post(f"/api/v1/tasks/{item['id']}", headers=headers, json={"data": {"route": "street", "reply": "转街道"}})
    assert done.status_code == 200
    body = done.get_json()
    assert body["whistle_id"] == wid and [t["task"] for t in body["next_tasks"]] == ["street_coordinate"]
    again = client.post(f"/api/v1/tasks/{item['id']}", headers=headers, json={"data": {"route": "street", "reply": "转街道"}})
    assert again.status_code == 409 and error_code(again) == "task_not_ready"
    assert client.get(f"/api/v1/tasks/{item['id']}", headers=headers).status_code == 404
    assert client.get("/api/v1/tasks/not-a-task!", headers=headers).status_code == 404


def test_task_of_another_unit_is_forbidden(api):
    app, factory = api
    _, iid, _ = report(factory)
    task_id = ready(factory, iid)[0].id
    client = app.test_client()
    other = token(client, "sq-hs-jfl-sq2")
    assert client.get("/api/v1/tasks", headers=other).get_json()["total"] == 0
    assert client.get(f"/api/v1/tasks/{task_id}", headers=other).status_code == 403
    response = client.post(f"/api/v1/tasks/{task_id}", headers=other, json={"data": {"route": "local", "reply": "x"}})
    assert response.status_code == 403 and error_code(response) == "forbidden"
    assert ready(factory, iid)[0].id == task_id


def test_form_expands_directory_references(api):
    app, factory = api
    _, iid, _ = report(factory)
    advance(factory, iid, "street_review")
    client = app.test_client()
    headers = token(client, "jd-hs-jfl")
    task_id = client.get("/api/v1/tasks", headers=headers).get_json()["items"][0]["id"]
    form = client.get(f"/api/v1/tasks/{task_id}", headers=headers).get_json()["form"]
    lead = {c["const"] for c in form["properties"]["lead_department_id"]["oneOf"]}
    items = {c["const"] for c in form["properties"]["cooperating_department_ids"]["items"]["oneOf"]}
    assert {"hs-cgj", "city-gdgs"} <= lead and lead == items
    bad = client.post(f"/api/v1/tasks/{task_id}", headers=headers, json={"data": {
        "decision": "start_procedure", "opinion": "同意", "category": "交通出行", "urgency": 9, "complexity": 2,
        "lead_department_id": "no-such-unit", "cooperating_department_ids": []}})
    fields = {e["field"]: e["message"] for e in bad.get_json()["errors"]}
    assert fields == {"urgency": "不能大于 3。", "lead_department_id": "请从列表中选择一个有效的选项。"}


def test_evaluation_is_recorded_with_the_completion(api):
    app, factory = api
    wid, iid, _ = report(factory)
    advance(factory, iid, "evaluate_department")
    client = app.test_client()
    headers = token(client, "sq-hs-jfl-sq1")
    items = client.get("/api/v1/tasks?task=evaluate_department", headers=headers).get_json()["items"]
    detail = client.get(f"/api/v1/tasks/{items[0]['id']}", headers=headers).get_json()
    department = detail["context"]["department_id"]
    grades = {"grade": "good", "timeliness": "excellent", "plan": "good", "result": "good", "attitude": "excellent",
              "opinion": "报到及时"}
    done = client.post(f"/api/v1/tasks/{items[0]['id']}", headers=headers, json={"data": grades})
    assert done.status_code == 200, done.get_json()
    with factory() as session:
        row = session.scalar(select(Evaluation).where(Evaluation.whistle_id == wid, Evaluation.department_id == department))
        assert (row.grade, row.timeliness, row.opinion) == ("good", "excellent", "报到及时")


def test_openapi_document_lists_every_endpoint(api):
    app, _ = api
    client = app.test_client()
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    assert {"/session", "/me", "/whistles", "/whistles/{key}", "/tasks", "/tasks/{task_id}", "/openapi.json"} <= set(paths)
    assert set(paths["/tasks/{task_id}"]["post"]["responses"]) >= {"200", "403", "404", "409", "422"}
    for path in paths.values():
        for op in path.values():
            for response in op["responses"].values():
                assert "description" in response
    assert client.get("/api/v1/nothing-here").status_code == 404
    assert error_code(client.get("/api/v1/nothing-here")) == "not_found"
    assert client.delete("/api/v1/me", headers=token(client, "admin")).status_code == 405


def test_api_over_a_real_http_server(api):
    app, factory = api
    with LiveServer(app) as server:
        def call(method, path, body=None, headers=None):
            data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
            request = urllib.request.Request(server.url + path, data=data, method=method,
                                             headers={"Content-Type": "application/json", **(headers or {})})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        status, body = call("POST", "/api/v1/session", {"username": "wg-hs-jfl-sq1", "password": "demo1234"})
        assert status == 200
        auth = {"Authorization": "Bearer " + body["token"]}
        status, created = call("POST", "/api/v1/whistles", {"title": "楼道灯坏了", "category": "明灯"}, auth)
        assert status == 201
        status, body = call("POST", "/api/v1/session", {"username": "sq-hs-jfl-sq1", "password": "demo1234"})
        community = {"Authorization": "Bearer " + body["token"]}
        status, tasks = call("GET", "/api/v1/tasks", headers=community)
        task_id = tasks["items"][0]["id"]
        status, body = call("POST", f"/api/v1/tasks/{task_id}", {"data": {"route": "local"}}, community)
        assert status == 422 and body["errors"] == [{"field": "reply", "message": "此项为必填项。"}]
        status, body = call("POST", f"/api/v1/tasks/{task_id}", b"{oops", community)
        assert status == 400
        status, body = call("POST", f"/api/v1/tasks/{task_id}", {"data": {"route": "local", "reply": "社区马上处理"}}, community)
        assert status == 200 and body["next_tasks"][0]["task"] == "resolve_locally"
        status, body = call("POST", f"/api/v1/tasks/{task_id}", {"data": {"route": "local", "reply": "x"}}, community)
        assert status == 409
        status, record = call("GET", f"/api/v1/whistles/{created['id']}", headers=community)
        assert status == 200 and any(e.get("reply") == "社区马上处理" for e in record["timeline"])
