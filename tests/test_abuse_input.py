"""Bad input answers 4xx, never 500 — the cases found by the fuzz run (tests/test_api_fuzz.py), named."""
from __future__ import annotations

import pytest

from tests.webkit import DEMO_PASSWORD, api_token, demo_app, logged_in


@pytest.fixture
def site(db_url, tmp_path):
    with demo_app(db_url, tmp_path) as pair:
        yield pair


def test_public_summary_with_a_year_out_of_range_answers_without_login(site):
    app, _ = site
    client = app.test_client()
    for year in ("-1", "0", "99999", "1e309", "2026\x00"):
        res = client.get("/public/summary", query_string={"year": year})
        assert res.status_code in (200, 400), (year, res.status_code)
    assert client.get("/public/summary?year=-1").status_code == 200     # the figures of every year


def test_impossible_dates_and_years_on_officers_pages(site):
    app, _ = site
    admin = logged_in(app, "admin")
    for url in ("/whistles?date_from=2026-02-30&date_to=0001-01-01", "/whistles?date_from=2026-13-01",
                "/evaluations?year=-1", "/dashboard?year=-1", "/dashboard?date_from=0001-01-01",
                "/admin/overview?version_id=99999999999999999999", "/processes/modeler?version=99999999999999999999",
                "/whistles/99999999999999999999", "/lang?lang=en&x=%00"):
        assert admin.get(url).status_code < 500, url


def test_nul_bytes_and_lone_surrogates_are_refused(site):
    app, _ = site
    admin = logged_in(app, "admin")
    assert admin.get("/whistles?q=%00").status_code == 400
    assert admin.get("/whistles?q=%ED%A0%80").status_code == 200      # undecodable bytes arrive as U+FFFD
    client = app.test_client()
    token = client.post("/api/v1/session", json={"username": "wg-hs-jfl-sq1", "password": DEMO_PASSWORD}).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for body in ('{"title": "a\\u0000b"}', '{"title": "\\ud800"}', "[" * 50_000 + "]" * 50_000):
        res = client.post("/api/v1/whistles", data=body, headers=auth)
        assert res.status_code == 400, (body[:20], res.status_code)
        assert res.get_json()["error"]["message"]



@pytest.mark.parametrize("key", ["%C2%B9", "2%C2%B3", "99999999999999999999"])
def test_a_digit_like_key_that_is_no_row_id_finds_nothing_instead_of_failing(site, key):
    """'¹' passes str.isdigit() but not int(); a 20-digit id fits no integer column: both are 404."""
    app, _factory = site
    assert app.test_client().get(f"/api/v1/whistles/{key}", headers=api_token(app, "sq-hs-jfl-sq1")).status_code == 404
    assert logged_in(app, "zzb-hs").get(f"/joint/{key}").status_code == 404
