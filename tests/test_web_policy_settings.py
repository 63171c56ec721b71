"""The policy settings page (/settings): policy staff see every local choice marked 地方自定 with
its default, save a new version, and a bad value is refused with a translated message and
nothing stored; other officers may look (org departments) or are refused."""
import pytest

from governance import policy_settings as S
from tests.webkit import csrf_token, demo_app, logged_in


@pytest.fixture
def site(db_url, tmp_path):
    with demo_app(db_url, tmp_path) as site:
        yield site


def _form(page: str, **changes) -> dict:
    values = {k: str(v) for k, v in S.DEFAULTS.items()}
    return {"csrf_token": csrf_token(page), **values, **changes}


def test_policy_staff_see_every_local_choice_and_save_a_new_version(site):
    app, factory = site
    policy = logged_in(app, "policy")
    page = policy.get("/settings").get_data(as_text=True)
    assert "当前版本：第 0 版" in page and page.count("地方自定") >= len(S.SETTINGS)
    for key in S.DEFAULTS:
        assert f'name="{key}"' in page, key
    assert "考核权重" in page                                          # the assessment weights are listed too
    res = policy.post("/settings", data=_form(page, triage_days="2", end_of_day="18:00", note="按新排班调整"),
                      follow_redirects=True)
    body = res.get_data(as_text=True)
    assert res.status_code == 200 and "已保存设置第 1 版" in body and 'data-version="1"' in body
    with factory() as session:
        current = S.current(session)
    assert current["version"] == 1 and current["created_by"] == "policy" and current["note"] == "按新排班调整"
    assert current["values"]["triage_days"] == 2 and current["values"]["end_of_day"] == "18:00"


@pytest.mark.parametrize("lang,message", [("zh", "应在 1 到 30 之间。"), ("en", "Must be between 1 and 30.")])
def test_a_bad_value_is_refused_with_a_translated_message_and_nothing_stored(site, lang, message):
    app, factory = site
    policy = logged_in(app, "policy")
    page = policy.get(f"/settings?lang={lang}").get_data(as_text=True)
    res = policy.post(f"/settings?lang={lang}", data=_form(page, propose_days="45", end_of_day="25:99"))
    body = res.get_data(as_text=True)
    assert res.status_code == 422 and message in body
    assert 'value="45"' in body                                        # the input is kept
    if lang == "en":
        assert "Please enter a time as HH:MM, e.g. 17:30." in body and "Local choice" in body
    with factory() as session:
        assert S.history(session) == [] and S.current(session)["version"] == 0


def test_who_may_see_and_edit_the_settings(site):
    app, _factory = site
    city = logged_in(app, "zzb-mas")
    page = city.get("/settings")
    assert page.status_code == 200 and "保存为新版本" not in page.get_data(as_text=True)   # read only
    assert city.post("/settings", data=_form(page.get_data(as_text=True))).status_code == 403
    for username in ("sq-hs-jfl-sq1", "bm-hs-cgj"):
        assert logged_in(app, username).get("/settings").status_code == 403
