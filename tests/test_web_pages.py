"""The web UI through Flask's test client: login, intake, inbox, task form, stale pages, whistle
page, reassign, notices, search, joint meeting, languages."""
import io
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from engine.models import AuditEvent, InboxTask
from governance.models import Consultation, Notice, Whistle
from tests.webkit import (DEFAULT_NOW, advance, csrf_token, demo_app, dispose, login, make_app, prepare_database,
                          ready, report)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def site(db_url, tmp_path):
    with demo_app(db_url, tmp_path) as site:
        yield site


def _post(client, url, data, page_url=None):
    page = client.get(page_url or url)
    return client.post(url, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))})


def text(response) -> str:
    return response.get_data(as_text=True)


def test_login_logout_and_header(site):
    app, _ = site
    client = app.test_client()
    assert client.get("/inbox").status_code == 302
    bad = login(client, "sq-hs-jfl-sq1", "wrong-password")
    assert bad.status_code == 401 and "用户名或密码不正确" in text(bad)
    ok = login(client, "sq-hs-jfl-sq1")
    assert ok.status_code == 302
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = text(client.get("/inbox"))
    assert "湖北路社区" in page and "社区党组织" in page     # my unit, my role
    out = _post(client, "/logout", {}, page_url="/inbox")
    assert out.status_code == 302
    assert client.get("/inbox").status_code == 302


def test_csrf_token_required(site):
    app, _ = site
    client = app.test_client()
    response = client.post("/login", data={"username": "sq-hs-jfl-sq1", "password": "demo1234"})
    assert response.status_code == 400
    assert "令牌" in text(response)


def test_login_rate_limit(db_url, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("independent of the database")
    prepare_database(db_url)
    app = make_app(db_url, tmp_path, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [login(client, "nobody", "x").status_code for _ in range(4)]
    assert codes[:3] == [401, 401, 401] and codes[3] == 429
    dispose(app)


def test_intake_shows_number_and_stores_photo(site):
    app, factory = site
    client = app.test_client()
    login(client, "wg-hs-jfl-sq1")
    page = client.get("/report")
    response = client.post("/report", data={
        "csrf_token": csrf_token(text(page)), "title": "花园路路灯不亮", "category": "明灯",
        "community_id": "hs-jfl-sq1", "description": "三盏路灯不亮", "location": "花园路 12 号",
        "source": "patrol", "photos": (io.BytesIO(PNG), "lamp.png")}, content_type="multipart/form-data")
    assert response.status_code == 302
    shown = client.get(response.headers["Location"])
    number = re.search(r'data-testid="whistle-no">([^<]+)<', text(shown)).group(1)
    assert number.startswith("HS-")
    with factory() as session:
        whistle = session.scalar(select(Whistle).where(Whistle.whistle_no == number))
        assert whistle.source == "patrol" and whistle.attachments[0]["content_type"] == "image/png"
    photo = client.get(f"/whistles/{whistle.id}/photos/0")
    assert photo.status_code == 200 and photo.data == PNG


def test_intake_refuses_bad_input_and_keeps_it(site):
    app, _ = site
    client = app.test_client()
    login(client, "wg-hs-jfl-sq1")
    page = client.get("/report")
    response = client.post("/report", data={
        "csrf_token": csrf_token(text(page)), "title": "", "description": "保留我", "community_id": "ys-am-sq1",
        "source": "patrol", "photos": (io.BytesIO(b"MZ not an image"), "virus.exe")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    body = text(response)
    assert "此项为必填项" in body and "不是图片" in body and "保留我" in body


def test_intake_forbidden_for_departments(site):
    app, _ = site
    client = app.test_client()
    login(client, "bm-hs-cgj")
    assert client.get("/report").status_code == 403


def test_inbox_task_form_validation_and_submit(site):
    app, factory = site
    wid, iid, number = report(factory)
    client = app.test_client()
    login(client, "sq-hs-jfl-sq1")
    inbox = text(client.get("/inbox"))
    assert number in inbox and "社区研判" in inbox
    task_id = ready(factory, iid)[0].id
    form = text(client.get(f"/tasks/{task_id}"))
    assert "研判结论" in form and "上报街道党工委协调" in form and "required-mark" in form
    assert "公交站点设置不合理" in form          # the whistle's facts beside the form
    bad = _post(client, f"/tasks/{task_id}", {"route": "nowhere", "note": "保留的意见"})
    assert bad.status_code == 422
    body = text(bad)
    assert 'data-field-error="route"' in body and "请从列表中选择一个有效的选项" in body
    assert 'data-field-error="reply"' in body and "此项为必填项" in body
    assert "保留的意见" in body
    done = _post(client, f"/tasks/{task_id}", {"route": "street", "reply": "已转街道协调"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/inbox")
    assert "已办理" in text(client.get("/inbox"))
    assert [t.task for t in ready(factory, iid)] == ["street_coordinate"]
    with factory() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.instance_id == iid, AuditEvent.action == "complete")
                              ).actor == "sq-hs-jfl-sq1"


def test_stale_submission_says_so(site):
    app, factory = site
    _, iid, _ = report(factory)
    task_id = ready(factory, iid)[0].id
    first, second = app.test_client(), app.test_client()
    login(first, "sq-hs-jfl-sq1")
    login(second, "sq-hs-jfl-sq1")
    page = text(second.get(f"/tasks/{task_id}"))
    assert _post(first, f"/tasks/{task_id}", {"route": "local", "reply": "社区处理"}).status_code == 302
    stale = second.post(f"/tasks/{task_id}", data={"route": "street", "reply": "x", "csrf_token": csrf_token(page)})
    assert stale.status_code == 302 and stale.headers["Location"].endswith("/inbox")
    assert "已由同事办理" in text(second.get("/inbox"))
    assert second.get(f"/tasks/{task_id}").status_code == 302


def test_other_units_task_is_forbidden(site):
    app, factory = site
    _, iid, _ = report(factory)
    task_id = ready(factory, iid)[0].id
    client = app.test_client()
    login(client, "sq-hs-jfl-sq2")
    assert task_id not in text(client.get("/inbox"))
    assert client.get(f"/tasks/{task_id}").status_code == 403


def test_inbox_filters_counts_empty_state_and_paging(site):
    app, factory = site
    for i in range(22):      # one a minute, the last one a minute before the app's clock
        report(factory, title=f"事项{i}", category="明灯" if i % 2 else "安全",
               at=DEFAULT_NOW - timedelta(minutes=22 - i))
    client = app.test_client()
    login(client, "sq-hs-jfl-sq1")
    first = text(client.get("/inbox"))
    assert "共 22 项" in first and "第 1 / 2 页" in first
    assert "事项0" not in first and "事项21" in first     # newest first, 20 per page
    assert "事项0" in text(client.get("/inbox?page=2"))
    filtered = text(client.get("/inbox?category=安全"))
    assert filtered.count('data-task="triage"') == 11
    assert 'data-testid="empty-state"' in text(client.get("/inbox?overdue=1"))
    other = app.test_client()
    login(other, "sq-ys-am-sq1")
    assert "没有待办任务" in text(other.get("/inbox"))


def test_department_reports_for_duty_and_deadline_shown(site):
    app, factory = site
    wid, iid, _ = report(factory)
    tasks = advance(factory, iid, "report_for_duty")
    task_id = next(t.id for t in tasks if t.task == "report_for_duty" and t.unit_id == "hs-cgj")
    client = app.test_client()
    login(client, "bm-hs-cgj")
    inbox = text(client.get("/inbox"))
    assert "部门报到" in inbox and "剩余" in inbox and 'data-deadline="ok"' in inbox
    form = text(client.get(f"/tasks/{task_id}"))
    assert 'type="date"' in form and "分管负责人" in form
    bad = _post(client, f"/tasks/{task_id}", {"visited_on": "2026-13-45", "leader_name": "王主任",
                                              "leader_phone": "12345", "contact_name": "李", "contact_phone": "13900000001",
                                              "work_plan": "方案"})
    assert bad.status_code == 422
    assert "有效的日期" in text(bad) and "格式不正确" in text(bad)
    ok = _post(client, f"/tasks/{task_id}", {"visited_on": "2026-11-16", "leader_name": "王主任",
                                             "leader_phone": "13900000000", "contact_name": "李",
                                             "contact_phone": "13900000001", "work_plan": "方案"})
    assert ok.status_code == 302
    # the lead's report is done; the cooperating department still reports for itself (R8)
    assert [(t.task, t.unit_id) for t in ready(factory, iid) if t.task == "report_for_duty"] == [("report_for_duty", "hs-zjj")]


def test_consultation_reply_recorded_in_register(site):
    app, factory = site
    wid, iid, _ = report(factory)
    tasks = advance(factory, iid, "consultation_reply")
    client = app.test_client()
    login(client, "bm-hs-zjj")
    mine = [t for t in tasks if t.task == "consultation_reply" and t.unit_id == "hs-zjj"][0]
    page = text(client.get(f"/tasks/{mine.id}"))
    assert "花山区住房和城乡建设局" in page        # the department this instance asks
    response = _post(client, f"/tasks/{mine.id}", {"answer": "object", "reason": "不属于本部门职能",
                                                   "suggested_unit_id": "hs-cgj"})
    assert response.status_code == 302
    with factory() as session:
        row = session.scalar(select(Consultation).where(Consultation.whistle_id == wid,
                                                        Consultation.department_id == "hs-zjj"))
        assert (row.answer, row.reason, row.suggested_unit_id) == ("object", "不属于本部门职能", "hs-cgj")


def test_whistle_page_timeline_diagram_and_visibility(site):
    app, factory = site
    wid, iid, number = report(factory)
    advance(factory, iid, "street_coordinate")
    client = app.test_client()
    login(client, "jd-hs-jfl")
    page = text(client.get(f"/whistles/{wid}"))
    assert number in page and "办理经过" in page and "收到吹哨事项" in page
    assert 'data-active=\'["street_coordinate"]\'' in page and "bpmn:definitions" in page
    assert "dist/viewer.js" in page
    outsider = app.test_client()
    login(outsider, "jd-ys-am")
    assert outsider.get(f"/whistles/{wid}").status_code == 403
    assert outsider.get("/whistles/99999").status_code == 404
    dept = app.test_client()
    login(dept, "bm-hs-cgj")
    assert dept.get(f"/whistles/{wid}").status_code == 403   # not involved yet


def test_search_by_number_words_and_visibility(site):
    app, factory = site
    _, _, number = report(factory, title="小饭桌整治")
    report(factory, title="水电路维护", community_id="ys-am-sq1", actor="wg-ys-am-sq1")
    client = app.test_client()
    login(client, "sq-hs-jfl-sq1")
    assert "找到 1 条" in text(client.get(f"/whistles?q={number}"))
    assert "找到 1 条" in text(client.get("/whistles?q=饭桌"))
    assert "找到 0 条" in text(client.get("/whistles?q=水电路"))   # another district's whistle
    assert 'data-testid="empty-state"' in text(client.get("/whistles?q=水电路"))
    city = app.test_client()
    login(city, "zzb-mas")
    assert "找到 2 条" in text(city.get("/whistles"))
    assert "找到 0 条" in text(city.get("/whistles?date_from=2000-01-01&date_to=2000-01-02"))
    assert "找到 2 条" in text(city.get("/whistles?stage=triage&date_from=bogus"))


def test_reassign_within_unit_is_audited(site):
    app, factory = site
    _, iid, _ = report(factory)
    task_id = ready(factory, iid)[0].id
    with factory.begin() as session:
        from governance.officers import create_officer
        create_officer(session, username="sq2-hbl", password="demo12345", display_name="第二位", role="community",
                       unit_id="hs-jfl-sq1")
    client = app.test_client()
    login(client, "sq-hs-jfl-sq1")
    response = _post(client, f"/tasks/{task_id}/assign", {"assignee": "sq2-hbl"}, page_url=f"/tasks/{task_id}")
    assert response.status_code == 302
    assert "已将任务指派给 sq2-hbl" in text(client.get(f"/tasks/{task_id}"))
    refused = _post(client, f"/tasks/{task_id}/assign", {"assignee": "sq-hs-jfl-sq2"}, page_url=f"/tasks/{task_id}")
    assert refused.status_code == 302 and "只能指派给本单位" in text(client.get(f"/tasks/{task_id}"))
    with factory() as session:
        assert session.get(InboxTask, task_id).assignee == "sq2-hbl"
        audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "reassign"))
        assert audit.actor == "sq-hs-jfl-sq1" and audit.detail["to"] == "sq2-hbl"
    other = app.test_client()
    login(other, "sq-hs-jfl-sq2")
    assert _post(other, f"/tasks/{task_id}/assign", {"assignee": ""}, page_url="/inbox").status_code == 403


def test_notices_unread_count_and_mark_read(site):
    app, factory = site
    wid, _, _ = report(factory)
    with factory.begin() as session:
        session.add(Notice(unit_id="hs-jfl-sq1", kind="report_overdue", whistle_id=wid, text="部门报到已逾期"))
    client = app.test_client()
    login(client, "sq-hs-jfl-sq1")
    page = text(client.get("/notices"))
    assert "部门报到已逾期" in page and 'badge text-bg-warning ms-1">1' in page
    notice_id = re.search(r"/notices/(\d+)/read", page).group(1)
    assert _post(client, f"/notices/{notice_id}/read", {}, page_url="/notices").status_code == 302
    after = text(client.get("/notices"))
    assert "已标记为已读" in after and 'badge text-bg-warning ms-1' not in after
    empty = app.test_client()
    login(empty, "jd-ys-am")
    assert 'data-testid="empty-state"' in text(empty.get("/notices"))


def test_joint_meeting_for_all_waiting_hard_issues(site):
    app, factory = site
    from engine import timers
    ids = [report(factory, title=f"重难点{i}", category="市容环境") for i in range(3)]
    client = app.test_client()
    login(client, "sq-hs-jfl-sq1")
    for _, iid, _ in ids:       # R3: the community triages each as a hard issue, from its inbox
        task = next(t for t in ready(factory, iid) if t.task == "triage")
        assert _post(client, f"/tasks/{task.id}", {"route": "hard", "reply": "提交联席会议"}).status_code == 302
    # the quarterly meeting (default: the 15th of the quarter's first month, 09:00) comes round
    meeting = datetime(2027, 1, 15, 9, 30, tzinfo=DEFAULT_NOW.tzinfo)
    assert not timers.sweep(factory, now=meeting).incidents
    app.config["CLOCK"].set(meeting)
    assert all(ready(factory, iid)[0].task == "joint_meeting" for _, iid, _ in ids)
    assert "记录季度联席会议" in text(client.get("/inbox"))
    page = text(client.get("/inbox/joint-meeting"))
    assert page.count('name="task_ids"') == 3
    chosen = [ready(factory, iid)[0].id for _, iid, _ in ids[:2]]
    bad = client.post("/inbox/joint-meeting", data={"csrf_token": csrf_token(page), "task_ids": chosen,
                                                    "decision": "to_street"})
    assert bad.status_code == 422 and "此项为必填项" in text(bad)
    assert all(ready(factory, iid)[0].task == "joint_meeting" for _, iid, _ in ids)   # nothing half-done
    ok = client.post("/inbox/joint-meeting", data={"csrf_token": csrf_token(page), "task_ids": chosen,
                                                   "decision": "to_street", "meeting_date": "2027-01-15",
                                                   "minutes": "会议研究决定上报街道"})
    assert ok.status_code == 302
    assert "2 个事项已办理" in text(client.get("/inbox"))
    assert [ready(factory, iid)[0].task for _, iid, _ in ids] == ["street_review", "street_review", "joint_meeting"]


def test_english_switch_and_accept_language(site):
    app, factory = site
    client = app.test_client()
    assert "Log in" in text(client.get("/login?lang=en"))
    login(client, "sq-hs-jfl-sq1")
    inbox = text(client.get("/inbox"))
    assert "Inbox" in inbox and 'lang="en"' in inbox        # remembered in the session
    assert "待办任务" in text(client.get("/inbox?lang=zh"))
    browser = app.test_client()
    assert "Log in" in text(browser.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    assert "登录" in text(browser.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}))


def test_dates_in_chinese_and_iso(site):
    app, factory = site
    wid, _, _ = report(factory)
    client = app.test_client()
    login(client, "sq-hs-jfl-sq1")
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", text(client.get(f"/whistles/{wid}")))
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", text(client.get(f"/whistles/{wid}?lang=en")))
