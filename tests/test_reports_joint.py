"""R14 through the web: whistles of three communities waiting at street review are offered as a
candidate group, the district org department opens a joint matter from them, its page shows the
linked whistles and the link audit, one whistle is unlinked before dispatch with a reason.
R15: the standing-mechanism register and the panel on a whistle's page."""
from __future__ import annotations

import re

import pytest
from lxml import html as lhtml
from sqlalchemy import select

import tests.procedure_kit  # noqa: F401  (loads the plugins)
from tests.conftest import scratch_database

from engine.db import write_session  # noqa: E402
from engine.models import InboxTask  # noqa: E402
from governance.evaluations import register_mechanism  # noqa: E402
from governance.joint_assessment_models import JointLink, JointMatter  # noqa: E402
from governance.models import Whistle  # noqa: E402
from tests.webkit import advance, csrf_token, demo_app, logged_in, report  # noqa: E402

COMMUNITIES = ("hs-jfl-sq1", "hs-jfl-sq2", "hs-hdl-sq1")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory):
    with scratch_database(request.param, tmp_path_factory.mktemp("joint-db")) as url:
        with demo_app(url, tmp_path_factory.mktemp("joint")) as site:
            yield site


def test_open_a_joint_matter_from_three_communities_and_unlink_one(site):
    app, factory = site
    ids = []
    for community in COMMUNITIES:
        wid, instance_id, _no = report(factory, title="小区门口公交站点设置不合理", community_id=community,
                                       actor=f"wg-{community}")
        advance(factory, instance_id, "street_review")
        ids.append(wid)
    org = logged_in(app, "zzb-hs")
    page = org.get("/joint")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    doc = lhtml.fromstring(body)
    waiting = {int(v) for v in doc.xpath('//table[@data-testid="waiting-table"]//input[@name="whistle_ids"]/@value')}
    assert set(ids) <= waiting
    group_links = doc.xpath('//*[@data-testid="candidate-groups"]//a[contains(@href, "select=")]/@href')
    assert any(set(ids) <= {int(x) for x in re.search(r"select=([0-9%C,]+)", h).group(1).replace("%2C", ",").split(",")}
               for h in group_links)
    # the group link pre-selects its whistles
    preselected = lhtml.fromstring(org.get(f"/joint?select={','.join(map(str, ids))}").get_data(as_text=True))
    assert {int(v) for v in preselected.xpath('//input[@name="whistle_ids"][@checked]/@value')} == set(ids)

    # errors keep the input and name the fields
    bad = org.post("/joint", data={"csrf_token": csrf_token(body), "whistle_ids": [str(ids[0])], "title": "公交站点"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "请至少选择来自两个社区" in text and 'value="公交站点"' in text

    res = org.post("/joint", data={"csrf_token": csrf_token(body), "whistle_ids": [str(i) for i in ids],
                                   "title": "多个小区公交站点设置不合理", "level": "district",
                                   "lead_department_id": "hs-cgj", "cooperating_department_ids": ["hs-zjj"],
                                   "completion_period": "P3M", "note": "三个社区反映同一问题"})
    assert res.status_code == 302, res.get_data(as_text=True)[:2000]
    location = res.headers["Location"]
    with factory() as session:
        joint = session.scalar(select(JointMatter).order_by(JointMatter.id.desc()))
        assert location.endswith(f"/joint/{joint.joint_no}")
        assert joint.level == "district" and joint.district_id == "hs" and joint.title == "多个小区公交站点设置不合理"
        assert sorted(l.whistle_id for l in session.scalars(select(JointLink).where(JointLink.joint_id == joint.id))) == sorted(ids)
        assert {w.joint_id for w in session.scalars(select(Whistle).where(Whistle.id.in_(ids)))} == {joint.joint_no}
        assert not session.scalars(select(InboxTask).where(InboxTask.task == "street_review", InboxTask.instance_id.in_(
            select(Whistle.instance_id).where(Whistle.id.in_(ids))))).all()
        joint_no = joint.joint_no
    shown = org.get(location)
    text = shown.get_data(as_text=True)
    assert "已开立共性问题" in text and "待派单" in text
    doc = lhtml.fromstring(text)
    assert {int(v) for v in doc.xpath('//table[@data-testid="joint-whistles"]//tr/@data-whistle')} == set(ids)
    assert len(doc.xpath('//table[@data-testid="joint-links"]/tbody/tr')) == 3
    assert doc.xpath('//*[@data-testid="joint-tasks"]')                    # the joint instance's next step
    assert "花山区城市管理局" in doc.xpath('//*[@data-testid="suggested-lead"]')[0].text_content()

    # a street sees a joint matter with whistles of its street; another street does not
    assert logged_in(app, "jd-hs-jfl").get(location).status_code == 200
    assert logged_in(app, "jd-ys-am").get(location).status_code == 403
    assert logged_in(app, "bm-hs-cgj").get(location).status_code == 403

    # unlinking needs a reason; with one the whistle goes back to street review
    nothing = org.post(f"/joint/{joint_no}/unlink", data={"csrf_token": csrf_token(text), "whistle_id": ids[2], "reason": " "},
                       follow_redirects=True)
    assert "请填写移出原因" in nothing.get_data(as_text=True)
    done = org.post(f"/joint/{joint_no}/unlink", data={"csrf_token": csrf_token(text), "whistle_id": ids[2],
                                                        "reason": "不属同一站点"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "移出共性问题" in text and "不属同一站点" in text
    doc = lhtml.fromstring(text)
    assert {int(v) for v in doc.xpath('//table[@data-testid="joint-whistles"]//tr/@data-whistle')} == set(ids[:2])
    with factory() as session:
        link = session.scalar(select(JointLink).where(JointLink.whistle_id == ids[2]))
        assert link.unlinked_by == "zzb-hs" and link.unlink_reason == "不属同一站点"
        assert session.get(Whistle, ids[2]).joint_id is None
    # it is waiting at street review again, so the page offers it again
    assert f'value="{ids[2]}"' in org.get("/joint").get_data(as_text=True)


def test_standing_mechanisms_register_and_the_whistle_panel(site):
    app, factory = site
    wid, _instance, _no = report(factory, title="小区周边小饭桌无证经营", category="市场秩序",
                                 community_id="hs-jfl-sq3", actor="wg-hs-jfl-sq3")
    with write_session(factory) as session:
        register_mechanism(session, title="校外小饭桌规范管理长效机制", document_no="马组通〔2026〕7号",
                           text="市场监管牵头，教育配合，每季度联合检查小饭桌。", lead_department_id="city-scjgj",
                           cooperating_department_ids=["city-jyj"], category="市场秩序")
    client = logged_in(app, "sq-hs-jfl-sq3")
    found = client.get("/mechanisms?q=小饭桌").get_data(as_text=True)
    assert "校外小饭桌规范管理长效机制" in found and "马组通〔2026〕7号" in found and "市教育局" in found
    assert 'data-testid="empty-state"' in client.get("/mechanisms?q=不存在的机制名称").get_data(as_text=True)
    page = client.get(f"/whistles/{wid}").get_data(as_text=True)
    panel = lhtml.fromstring(page).xpath('//*[@data-testid="related-mechanisms"]')
    assert "相关长效机制" in page and panel and "校外小饭桌规范管理长效机制" in panel[0].text_content()
