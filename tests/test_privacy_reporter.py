"""PIPL: a reporter's name and phone are for the community and the street handling the whistle and
for administrators only — on the whistle page and in the JSON API alike — and every such read is
audited (who, when, which whistle). Everyone else reads descriptions with phone and identity card
numbers masked."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.db import write_session
from engine.models import AuditEvent
from governance.models import Whistle
from governance.privacy import READ_REPORTER, mask
from governance.register import report_whistle
from tests.webkit import DEFAULT_NOW, DEMO_PASSWORD, advance, demo_app, logged_in

PHONE, ID_NO, NAME = "13912345678", "340503199001011234", "张三丰"
REPORTER = f"{NAME} ({PHONE})"
DESCRIPTION = f"楼道堆放杂物。反映人电话 {PHONE}，身份证 {ID_NO}。"

MAY_SEE = ["sq-hs-jfl-sq1", "jd-hs-jfl", "admin"]
MAY_NOT = ["wg-hs-jfl-sq1", "zzb-hs", "zzb-mas", "bm-hs-cgj"]


def _seed(factory):
    from engine.clock import frozen_at
    with write_session(factory) as session, frozen_at(DEFAULT_NOW):
        whistle = report_whistle(session, title=f"杂物堵塞通道（{PHONE}）", description=DESCRIPTION, category="安全",
                                 community_id="hs-jfl-sq1", location="花园路", reporter=REPORTER, source="platform",
                                 actor="sq-hs-jfl-sq1")
        instance_id = whistle.instance_id
    # as far as the consultation, so that the department and the org departments see the whistle
    advance(factory, instance_id, "consultation_reply")


@pytest.fixture
def site(db_url, tmp_path):
    with demo_app(db_url, tmp_path, seed=_seed) as pair:
        yield pair


def _whistle(factory) -> Whistle:
    with factory() as session:
        return session.scalars(select(Whistle).where(Whistle.reporter == REPORTER)).one()


def _reads(factory) -> list[AuditEvent]:
    with factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == READ_REPORTER)
                                    .order_by(AuditEvent.id)))


def _api(app, username):
    client = app.test_client()
    token = client.post("/api/v1/session", json={"username": username, "password": DEMO_PASSWORD}).get_json()["token"]
    return client, {"Authorization": f"Bearer {token}"}


def test_mask_hides_phone_and_id_numbers_but_not_whistle_numbers_or_dates():
    text = mask(f"电话 {PHONE}、0555-2345678，身份证 {ID_NO}，编号 HS-2026-00001，2026-11-16")
    assert PHONE not in text and ID_NO not in text and "2345678" not in text
    assert "HS-2026-00001" in text and "2026-11-16" in text


@pytest.mark.parametrize("username", MAY_SEE)
def test_pipl_handling_units_and_admins_see_the_reporter_and_the_read_is_audited(site, username):
    app, factory = site
    whistle = _whistle(factory)
    before = len(_reads(factory))
    client, auth = _api(app, username)
    body = client.get(f"/api/v1/whistles/{whistle.id}", headers=auth).get_json()
    assert body["reporter"] == REPORTER and body["description"] == DESCRIPTION
    page = logged_in(app, username).get(f"/whistles/{whistle.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="reporter"' in html and NAME in html and PHONE in html
    reads = _reads(factory)[before:]
    assert [(r.actor, r.detail["whistle_id"], r.detail["via"]) for r in reads] == \
        [(username, whistle.id, "api"), (username, whistle.id, "page")]
    assert all(r.at is not None and r.detail["whistle_no"] == whistle.whistle_no for r in reads)


@pytest.mark.parametrize("username", MAY_NOT)
def test_pipl_other_roles_get_neither_reporter_nor_numbers(site, username):
    app, factory = site
    whistle = _whistle(factory)
    before = len(_reads(factory))
    client, auth = _api(app, username)
    res = client.get(f"/api/v1/whistles/{whistle.id}", headers=auth)
    assert res.status_code == 200, (username, res.status_code)
    text = res.get_data(as_text=True)
    body = res.get_json()
    assert body["reporter"] is None
    assert body["description"] == mask(DESCRIPTION) and "139******78" in body["description"]
    for secret in (PHONE, ID_NO, NAME):
        assert secret not in text, (username, secret)
    page = logged_in(app, username).get(f"/whistles/{whistle.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="reporter"' not in html
    for secret in (PHONE, ID_NO, NAME):
        assert secret not in html, (username, secret)
    assert len(_reads(factory)) == before    # nothing personal was read


def test_pipl_a_department_task_page_masks_the_description(site):
    app, factory = site
    whistle = _whistle(factory)
    client = logged_in(app, "bm-hs-cgj")
    with factory() as session:
        from engine.models import InboxTask
        task = session.scalars(select(InboxTask).where(InboxTask.instance_id == whistle.instance_id,
                                                       InboxTask.unit_id == "hs-cgj")).first()
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "楼道堆放杂物" in html and PHONE not in html and ID_NO not in html
