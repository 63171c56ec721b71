"""Abuse of intake: one key or one officer cannot flood the register (Open311 and the report form
are rate-limited per key / per officer), and what one request or one whistle may carry is capped."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from governance.models import Whistle
from tests.webkit import DEMO_PASSWORD, csrf_token, demo_app, logged_in
from webapp import uploads
from webapp.intake_limits import DEFAULTS

KEY = "platform-secret-key"
BASE = "/open311/v2"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def site(db_url, tmp_path):
    with demo_app(db_url, tmp_path, OPEN311_API_KEY=KEY) as pair:
        yield pair


def _count(factory) -> int:
    with factory() as session:
        return session.scalar(select(func.count(Whistle.id)))


def _per_minute(setting: str) -> int:
    return int(DEFAULTS[setting].split(" per minute")[0])


def _token(client, username):
    return client.post("/api/v1/session", json={"username": username, "password": DEMO_PASSWORD}).get_json()["token"]


def test_abuse_open311_one_officer_token_cannot_flood(site):
    app, factory = site
    client = app.test_client()
    allowed = _per_minute("OPEN311_OFFICER_RATE_LIMIT")
    headers = {"Authorization": f"Bearer {_token(client, 'wg-hs-jfl-sq1')}"}
    before = _count(factory)
    codes = [client.post(f"{BASE}/requests.json", headers=headers,
                         data={"service_code": "other", "description": f"spam {i}", "address_string": "x"}).status_code
             for i in range(allowed + 5)]
    assert codes[:allowed] == [201] * allowed and set(codes[allowed:]) == {429}, codes
    assert _count(factory) == before + allowed
    res = client.post(f"{BASE}/requests.json", headers=headers, data={"service_code": "other", "address_string": "x"})
    assert res.status_code == 429 and res.get_json()[0]["code"] == 429     # an Open311 error array
    # another officer is counted on their own
    other = {"Authorization": f"Bearer {_token(client, 'sq-hs-jfl-sq1')}"}
    res = client.post(f"{BASE}/requests.json", headers=other,
                      data={"service_code": "other", "address_string": "x", "community_id": "hs-jfl-sq1"})
    assert res.status_code == 201


def test_abuse_open311_key_is_limited_by_its_setting(db_url, tmp_path):
    with demo_app(db_url, tmp_path, OPEN311_API_KEY=KEY, OPEN311_KEY_RATE_LIMIT="3 per minute") as (app, factory):
        client = app.test_client()
        data = {"api_key": KEY, "service_code": "other", "address_string": "x", "community_id": "hs-jfl-sq1"}
        codes = [client.post(f"{BASE}/requests.json", data=data).status_code for _ in range(5)]
        assert codes == [201, 201, 201, 429, 429]


def test_abuse_open311_request_body_is_capped(site):
    app, factory = site
    client = app.test_client()
    before = _count(factory)
    res = client.post(f"{BASE}/requests.json", data={"api_key": KEY, "service_code": "other", "address_string": "x",
                                                     "community_id": "hs-jfl-sq1", "padding": "x" * 40_000})
    assert res.status_code == 413 and res.get_json()[0]["code"] == 413
    assert _count(factory) == before


def _report_form(client, **extra):
    page = client.get("/report").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "title": "楼道灯不亮", "category": "明灯", "community_id": "hs-jfl-sq1",
            "source": "patrol", **extra}
    return client.post("/report", data=data, content_type="multipart/form-data")


def test_abuse_report_form_is_rate_limited_per_officer(site):
    app, factory = site
    client = logged_in(app, "wg-hs-jfl-sq1")
    allowed = _per_minute("INTAKE_RATE_LIMIT")
    codes = [_report_form(client).status_code for _ in range(allowed + 2)]
    assert codes[:allowed] == [302] * allowed and set(codes[allowed:]) == {429}, codes
    # the limit follows the officer, not the browser: a second login is still refused
    again = logged_in(app, "wg-hs-jfl-sq1")
    assert _report_form(again).status_code == 429
    assert logged_in(app, "sq-hs-jfl-sq1").get("/report").status_code == 200


def test_abuse_photos_of_one_report_are_capped_in_total(site):
    app, factory = site
    client = logged_in(app, "wg-hs-jfl-sq1")
    each = app.config["MAX_PHOTO_BYTES"] - 1024           # every photo within its own limit …
    photos = [(io.BytesIO(PNG + b"\0" * (each - len(PNG))), f"p{i}.png") for i in range(3)]   # … not together
    before = _count(factory)
    res = _report_form(client, photos=photos)
    assert res.status_code == 422
    assert "照片合计太大" in res.get_data(as_text=True)
    assert _count(factory) == before


def test_abuse_photos_of_one_whistle_are_capped_in_total(site):
    app, _ = site
    from werkzeug.datastructures import FileStorage
    with app.test_request_context():
        existing = [{"name": "a.png", "file": "a.png", "size": uploads.DEFAULT_MAX_WHISTLE_PHOTO_BYTES - 1000,
                     "content_type": "image/png"}]
        photo = FileStorage(io.BytesIO(PNG + b"\0" * 5000), filename="b.png")
        with pytest.raises(uploads.UploadRefused) as refused:
            uploads.check([photo], existing=existing)
        assert refused.value.args[0][0] == "too_much"
        photo = FileStorage(io.BytesIO(PNG + b"\0" * 500), filename="c.png")
        assert len(uploads.check([photo], existing=existing)) == 1
