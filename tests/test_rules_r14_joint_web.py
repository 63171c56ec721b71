"""R14 through the web, on SQLite and PostgreSQL: `/joint` answers every demo role (the page for
streets and org departments, 403 for the others), a district org department suggests only its own
district's departments (R5), and the coordinating org department cancels a joint matter, which
sends its whistles back to their streets."""
from __future__ import annotations

import pytest
from lxml import html as lhtml
from sqlalchemy import select

import tests.procedure_kit  # noqa: F401  (loads the plugins)
from tests.conftest import scratch_database

from engine.db import write_session  # noqa: E402
from engine.models import InboxTask  # noqa: E402
from governance import joint as J  # noqa: E402
from governance.joint_assessment_models import JointMatter  # noqa: E402
from governance.models import Officer, Whistle  # noqa: E402
from tests.webkit import advance, csrf_token, demo_app, logged_in, report  # noqa: E402

COMMUNITIES = ("hs-jfl-sq1", "hs-jfl-sq2", "hs-hdl-sq1")
PAGE_ROLES = ("street", "district_org", "city_org", "admin")


def _waiting(factory, title):
    ids = []
    for community in COMMUNITIES:
        wid, instance_id, _no = report(factory, title=title, community_id=community, actor=f"wg-{community}")
        advance(factory, instance_id, "street_review")
        ids.append(wid)
    return ids


def _joint(factory, title) -> tuple[str, list[int]]:
    ids = _waiting(factory, title)
    with write_session(factory) as session:
        joint = J.open_joint_matter(session, ids, actor="zzb-hs", level="district", lead_department_id="hs-cgj")
        return joint.joint_no, ids


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory):
    with scratch_database(request.param, tmp_path_factory.mktemp("r14-web-db")) as url:
        with demo_app(url, tmp_path_factory.mktemp("r14-web")) as site:
            yield site


def test_r14_the_joint_page_answers_every_demo_role(site):
    app, factory = site
    joint_no, _ids = _joint(factory, "小区门口公交站点设置不合理")
    with factory() as session:
        officers = list(session.scalars(select(Officer).where(Officer.active.is_(True)).order_by(Officer.username)))
    by_role: dict[str, list[str]] = {}
    for o in officers:
        by_role.setdefault(o.role, []).append(o.username)
    assert set(PAGE_ROLES) <= set(by_role)
    for role, names in sorted(by_role.items()):
        # every officer of the page's roles; one of each other role
        for username in names if role in PAGE_ROLES else names[:1]:
            page = logged_in(app, username).get("/joint")
            assert page.status_code == (200 if role in PAGE_ROLES else 403), (username, page.status_code)
    # the streets of the linked whistles and the district find the joint matter in their list
    for username in ("jd-hs-jfl", "jd-hs-hdl", "zzb-hs", "zzb-mas", "admin"):
        assert joint_no in logged_in(app, username).get("/joint").get_data(as_text=True), username
    assert joint_no not in logged_in(app, "jd-ys-am").get("/joint").get_data(as_text=True)


def test_r05_the_district_suggests_only_its_own_departments_for_a_joint_matter(site):
    app, factory = site
    ids = _waiting(factory, "小区周边路灯不亮")
    org = logged_in(app, "zzb-hs")
    body = org.get("/joint").get_data(as_text=True)
    offered = set(lhtml.fromstring(body).xpath('//select[@name="lead_department_id"]/option/@value')) - {""}
    assert "hs-cgj" in offered and not [d for d in offered if not d.startswith("hs-")]
    with factory() as session:
        before = session.scalar(select(JointMatter.id).order_by(JointMatter.id.desc()).limit(1))
    for lead, coop in (("city-cgj", []), ("hs-cgj", ["ys-zjj"])):
        answer = org.post("/joint", data={"csrf_token": csrf_token(body), "whistle_ids": [str(i) for i in ids],
                                          "title": "多个小区路灯不亮", "level": "district", "lead_department_id": lead,
                                          "cooperating_department_ids": coop, "completion_period": "P3M"})
        assert answer.status_code == 422
        doc = lhtml.fromstring(answer.get_data(as_text=True))
        field = "lead_department_id" if coop == [] else "cooperating_department_ids"
        assert doc.xpath(f'//select[@name="{field}"][contains(@class, "is-invalid")]'), field
        assert "本区的区直部门" in answer.get_data(as_text=True)
        with factory() as session:                                            # nothing changed
            assert session.scalar(select(JointMatter.id).order_by(JointMatter.id.desc()).limit(1)) == before
            assert all(session.get(Whistle, i).joint_id is None for i in ids)


def test_r14_the_org_department_cancels_a_joint_matter_and_the_whistles_go_back_to_their_streets(site):
    app, factory = site
    joint_no, ids = _joint(factory, "小区电动车停放无序")
    org = logged_in(app, "zzb-hs")
    page = org.get(f"/joint/{joint_no}").get_data(as_text=True)
    assert lhtml.fromstring(page).xpath('//*[@data-testid="joint-cancel"]')
    # only the coordinating org department (or an administrator) may cancel
    street = logged_in(app, "jd-hs-jfl")
    token = csrf_token(street.get(f"/joint/{joint_no}").get_data(as_text=True))
    assert street.post(f"/joint/{joint_no}/cancel", data={"csrf_token": token, "reason": "x"}).status_code == 403
    empty = org.post(f"/joint/{joint_no}/cancel", data={"csrf_token": csrf_token(page), "reason": " "},
                     follow_redirects=True)
    assert "请填写撤销原因" in empty.get_data(as_text=True)
    with factory() as session:
        assert session.scalar(select(JointMatter.status).where(JointMatter.joint_no == joint_no)) == "open"
    done = org.post(f"/joint/{joint_no}/cancel", data={"csrf_token": csrf_token(page), "reason": "并入全区停车治理专项"},
                    follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "已撤销共性问题" in text and "已撤销" in text
    assert not lhtml.fromstring(text).xpath('//*[@data-testid="joint-cancel"]')
    with factory() as session:
        for wid in ids:
            w = session.get(Whistle, wid)
            assert w.joint_id is None and w.stage == "street_review"
            assert [t.task for t in session.scalars(select(InboxTask).where(InboxTask.instance_id == w.instance_id))] \
                == ["street_review"]
    assert str(ids[0]) in street.get("/joint").get_data(as_text=True)       # waiting at its review again
    timeline = street.get(f"/whistles/{ids[0]}").get_data(as_text=True)
    assert "并入全区停车治理专项" in timeline and joint_no in timeline
