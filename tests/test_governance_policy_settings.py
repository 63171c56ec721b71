"""Versioned policy settings (local choices): defaults, saving a new version, refusing bad
values with nothing stored, and the deadlines, meeting dates and thresholds that read them."""
from datetime import date, datetime, time

import pytest

import handlers  # noqa: F401
from engine.registry import get_handler
from governance import policy_settings as S
from governance.calendar import TZ, iso
from governance.consultations import consultation_due
from governance.deadlines import order_deadlines, step_due
from governance.meetings import next_joint_meeting
from tests.handlerkit import handler_ctx

AT = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)      # a Monday


def test_defaults_are_version_0_and_the_documented_local_choices(session):
    current = S.current(session)
    assert current["version"] == 0 and S.history(session) == []
    assert current["values"] == {"triage_days": 1, "street_coordinate_days": 3, "street_review_days": 3,
                                 "propose_days": 3, "confirm_dispatch_days": 2, "consultation_reply_days": 3,
                                 "joint_meeting_day": 15, "joint_meeting_time": "09:00",
                                 "rework_threshold": 60.0, "end_of_day": "17:30"}
    assert S.end_of_day(session) == time(17, 30) and S.step_days(session, "triage") == 1
    assert S.current(None)["values"] == current["values"]


def test_each_save_is_a_new_version_with_who_when_and_why(session):
    first = S.save(session, {"triage_days": "2"}, actor="policy", note="社区人手不足", at=AT)
    second = S.save(session, {"end_of_day": "18:00", "rework_threshold": "70"}, actor="policy2", at=AT)
    assert (first["version"], second["version"]) == (1, 2)
    assert second["values"]["triage_days"] == 2                # kept from version 1
    assert second["values"]["end_of_day"] == "18:00" and second["values"]["rework_threshold"] == 70.0
    history = S.history(session)
    assert [(h["version"], h["created_by"], h["note"]) for h in history] == [(1, "policy", "社区人手不足"),
                                                                            (2, "policy2", None)]
    assert history[0]["values"]["end_of_day"] == "17:30"        # an old version is never edited
    assert S.current(session)["version"] == 2


@pytest.mark.parametrize("values,key,code", [
    ({"triage_days": "0"}, "triage_days", "range"),
    ({"triage_days": "31"}, "triage_days", "range"),
    ({"propose_days": "1.5"}, "propose_days", "whole"),
    ({"confirm_dispatch_days": "两天"}, "confirm_dispatch_days", "number"),
    ({"consultation_reply_days": ""}, "consultation_reply_days", "required"),
    ({"joint_meeting_day": "29"}, "joint_meeting_day", "range"),
    ({"joint_meeting_time": "25:00"}, "joint_meeting_time", "time"),
    ({"end_of_day": "5:30pm"}, "end_of_day", "time"),
    ({"rework_threshold": "101"}, "rework_threshold", "range"),
    ({"rework_threshold": "nan"}, "rework_threshold", "number"),
    ({"unknown": "1"}, "unknown", "unknown"),
])
def test_a_bad_value_is_refused_and_nothing_is_stored(session, values, key, code):
    with pytest.raises(S.PolicySettingsError) as refused:
        S.save(session, {"triage_days": "2", **values}, actor="policy", at=AT)
    assert refused.value.errors[key][0] == code
    assert S.history(session) == [] and S.current(session)["version"] == 0


def test_deadlines_read_the_settings_current_when_they_are_computed(session):
    assert iso(step_due(session, "triage", AT)) == "2026-11-03T17:30:00+08:00"
    assert iso(consultation_due(AT, session=session)) == "2026-11-05T17:30:00+08:00"
    before = order_deadlines(session, AT, "P1M")
    S.save(session, {"triage_days": "2", "consultation_reply_days": "5", "end_of_day": "18:00"}, actor="policy", at=AT)
    assert iso(step_due(session, "triage", AT)) == "2026-11-04T18:00:00+08:00"
    assert iso(consultation_due(AT, session=session)) == "2026-11-09T18:00:00+08:00"
    after = order_deadlines(session, AT, "P1M")
    assert (iso(before.complete_due), iso(after.complete_due)) == ("2027-02-02T17:30:00+08:00",
                                                                  "2027-02-02T18:00:00+08:00")
    assert iso(after.report_due) == "2026-11-09T18:00:00+08:00" and iso(after.target_due) == "2026-12-02T18:00:00+08:00"


def test_r03_the_joint_meeting_day_and_time_are_settings(session):
    from governance.demo import load_demo
    load_demo(session)
    assert iso(next_joint_meeting(session, "hs-jfl-sq1", datetime(2026, 9, 20, tzinfo=TZ))) == \
        "2026-10-15T09:00:00+08:00"
    S.save(session, {"joint_meeting_day": "11", "joint_meeting_time": "14:30"}, actor="policy", at=AT)
    at = next_joint_meeting(session, "hs-jfl-sq1", datetime(2026, 9, 20, tzinfo=TZ))
    assert date(2026, 10, 11).weekday() == 6
    assert iso(at) == "2026-10-12T14:30:00+08:00"      # a Sunday: the next working day


def test_r12_the_rework_threshold_comes_from_the_settings(session):
    record = get_handler("survey.record")
    assert record(respondents=10, satisfied=6, basically_satisfied=1, dissatisfied=3,
                  ctx=handler_ctx(session, {}, now=AT, actor="sq"))["rework_threshold"] == 60.0
    S.save(session, {"rework_threshold": "75"}, actor="policy", at=AT)
    assert record(respondents=10, satisfied=6, basically_satisfied=1, dissatisfied=3,
                  ctx=handler_ctx(session, {}, now=AT, actor="sq")) == {"satisfaction_rate": 70.0, "rework_threshold": 75.0}
