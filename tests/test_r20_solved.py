"""R20, solved means solved: every way a whistle can close, walked by the officers through their
inboxes, records its outcome in the register; the R20 figures count as solved only the matters
closed as resolved (locally, by the street, completed by the departments) and count closures as
"cannot be solved", "closed at the joint meeting" and "standing mechanism" apart."""
from __future__ import annotations

from datetime import timedelta

from governance.stats import stats
from tests.procedure_kit import local, world  # noqa: F401  (fixture)

FIGURES = ("reported", "closed", "solved", "cannot_solve", "closed_at_meeting", "long_term", "open")


def _figures(world, communities) -> dict:
    with world.factory() as session:
        out = dict.fromkeys(FIGURES, 0)
        for community in communities:
            totals = stats(session, breakdowns=(), community=community)["totals"]
            for k in FIGURES:
                out[k] += totals[k]
        return out


def _survey_and_evaluate(world, w, at):
    world.survey(w, at, respondents=10, satisfied=9, basically=1, dissatisfied=0)
    world.evaluate_all(w, at + timedelta(hours=2))


def test_r20_solved_counts_only_resolved_closures(world):
    communities = ("ys-am-sq2", "bw-dy-sq2", "hs-js-sq1")
    before = _figures(world, communities)
    day = local(2026, 11, 2, 9)

    # 1. resolved locally by the community (R2)
    local_w = world.report("楼道堆物", at=day, community_id="ys-am-sq2", category="安全")
    world.act("sq-ys-am-sq2", "triage", {"route": "local", "reply": "社区处理。"}, local_w, at=day + timedelta(hours=1))
    world.act("sq-ys-am-sq2", "resolve_locally", {"resolved_on": "2026-11-02", "result": "已清理",
                                                  "reply": "已清理。"}, local_w, at=day + timedelta(hours=3))

    # 2. resolved by the street's coordination (R2)
    street_w = world.report("井盖松动", at=day, community_id="bw-dy-sq2", category="道路设施")
    world.act("sq-bw-dy-sq2", "triage", {"route": "street", "reply": "报街道。"}, street_w, at=day + timedelta(hours=1))
    world.act(f"jd-{street_w.street_id}", "street_coordinate",
              {"outcome": "resolved", "result": "协调物业更换", "reply": "已更换。"}, street_w, at=day + timedelta(hours=5))

    # 3. closed by the community's joint meeting without a solution (R3)
    meeting_w = world.report("加装电梯意见不一", at=day, community_id="hs-js-sq1", category="需求")
    world.act("sq-hs-js-sq1", "triage", {"route": "hard", "reply": "提交联席会议。"}, meeting_w, at=day + timedelta(hours=1))
    [(_, due)] = world.timers(meeting_w)
    world.fire(due + timedelta(seconds=1))
    world.act("sq-hs-js-sq1", "joint_meeting", {"meeting_date": due.date().isoformat(), "decision": "close",
                                                "minutes": "居民意见不一，暂不实施"}, meeting_w, at=due + timedelta(hours=2))

    # 4. completed by the departments (R10)
    done_w = world.report("路灯不亮", at=day, community_id="ys-am-sq2", category="明灯")
    world.to_handling(done_w, local(2026, 11, 9, 10), lead="ys-cgj")
    world.report_for_duty(done_w, local(2026, 11, 10, 10), dept="ys-cgj")
    world.complete_matter(done_w, local(2026, 11, 20, 10), dept="ys-cgj")
    _survey_and_evaluate(world, done_w, local(2026, 11, 23, 10))

    # 5. a standing mechanism (R15)
    long_w = world.report("校园周边小饭桌", at=day, community_id="ys-am-sq2", category="教育")
    world.to_handling(long_w, local(2026, 11, 9, 11), lead="ys-mzj")
    world.report_for_duty(long_w, local(2026, 11, 10, 11), dept="ys-mzj")
    world.complete_matter(long_w, local(2026, 11, 20, 11), dept="ys-mzj", outcome="long_term",
                          result="需常态化监管", reply="形成长效机制。")
    world.act("zzb-ys", "long_term_mechanism",
              {"document_title": "小饭桌常态化监管办法", "document_no": "雨组〔2026〕9号", "lead_department_id": "ys-mzj",
               "cooperating_department_ids": [], "text": "每季度联合检查"}, long_w, at=local(2026, 11, 21, 10))
    _survey_and_evaluate(world, long_w, local(2026, 11, 24, 10))

    # 6. cannot be solved, even by the city (R6)
    hard_w = world.report("跨区公交线路", at=day, community_id="hs-js-sq1", category="交通出行")
    world.to_handling(hard_w, local(2026, 11, 9, 12), lead="hs-zjj")
    world.report_for_duty(hard_w, local(2026, 11, 10, 12), dept="hs-zjj")
    world.complete_matter(hard_w, local(2026, 11, 16, 10), dept="hs-zjj", outcome="cannot_solve",
                          result="需市级统筹", reply="已提请上报市级。")
    world.act("zzb-hs", "district_meeting", {"meeting_date": "2026-11-17", "decision": "escalate",
                                             "minutes": "上报市委组织部"}, hard_w, at=local(2026, 11, 17, 16))
    world.dispatch(hard_w, local(2026, 11, 19, 10), lead="city-gjjt", org="zzb-mas")
    world.report_for_duty(hard_w, local(2026, 11, 20, 10), dept="city-gjjt")
    world.complete_matter(hard_w, local(2026, 11, 27, 10), dept="city-gjjt", outcome="cannot_solve",
                          result="线路涉及跨市运营，暂无法调整", reply="经市级研究，暂无法调整，已说明原因。")
    _survey_and_evaluate(world, hard_w, local(2026, 11, 30, 10))

    outcomes = {name: world.whistle(w) for name, w in (("local", local_w), ("street", street_w),
                                                      ("meeting", meeting_w), ("done", done_w),
                                                      ("long", long_w), ("hard", hard_w))}
    assert all(row.stage == "closed" and row.closed_at is not None for row in outcomes.values()), \
        {k: (r.stage, world.ready(r)) for k, r in outcomes.items()}
    assert {k: r.outcome for k, r in outcomes.items()} == {
        "local": "resolved_locally", "street": "resolved_by_street", "meeting": "closed_at_meeting",
        "done": "completed", "long": "long_term", "hard": "cannot_solve"}

    after = _figures(world, communities)
    delta = {k: after[k] - before[k] for k in FIGURES}
    assert delta == {"reported": 6, "closed": 6, "solved": 3, "cannot_solve": 1, "closed_at_meeting": 1,
                     "long_term": 1, "open": 0}


def test_r20_the_whistle_page_shows_how_it_was_closed(world):
    """The outcome recorded at the close is on the whistle page, in the reader's language."""
    from tests.webkit import logged_in, make_app
    day = local(2026, 11, 3, 9)
    w = world.report("楼道灯坏", at=day, community_id="ys-am-sq2", category="明灯")
    world.act(f"sq-{w.community_id}", "triage", {"route": "street", "reply": "报街道。"}, w, at=day + timedelta(hours=1))
    world.act(f"jd-{w.street_id}", "street_coordinate",
              {"outcome": "resolved", "result": "已修", "reply": "已修好。"}, w, at=day + timedelta(hours=2))
    app = make_app(str(world.factory.kw["bind"].url.render_as_string(hide_password=False)), _tmp(world))
    try:
        client = logged_in(app, f"sq-{w.community_id}")
        body = client.get(f"/whistles/{w.id}").get_data(as_text=True)
        assert 'data-outcome="resolved_by_street"' in body and "街道协调解决" in body
        english = client.get(f"/whistles/{w.id}?lang=en").get_data(as_text=True)
        assert "Outcome" in english and "Street coordination" in english
    finally:
        app.extensions["sessions"].kw["bind"].dispose()


def _tmp(world):
    import tempfile
    from pathlib import Path
    return Path(tempfile.mkdtemp(prefix="r20-page-"))
