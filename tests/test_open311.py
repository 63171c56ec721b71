"""R1: the Open311 GeoReport v2 endpoint through which residents' platforms report whistles."""
from __future__ import annotations

import re

import pytest

from sqlalchemy import select

from engine.db import write_session
from governance.directory import CATEGORIES
from governance.models import Whistle
from governance.register import record_reply
from tests.webkit import DEMO_PASSWORD, demo_app, dispose, make_app, prepare_database

KEY = "platform-secret-key"
BASE = "/open311/v2"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


@pytest.fixture
def setup(db_url, tmp_path):
    with demo_app(db_url, tmp_path, OPEN311_API_KEY=KEY) as site:
        yield site


def _token(client, username):
    res = client.post("/api/v1/session", json={"username": username, "password": DEMO_PASSWORD})
    assert res.status_code == 200, res.get_json()
    return res.get_json()["token"]


def _post(client, data, **kw):
    return client.post(f"{BASE}/requests.json", data=data, **kw)


def _by_public_id(session, public_id):
    return session.scalars(select(Whistle).where(Whistle.public_id == public_id)).one()


def _assert_error(res, status):
    assert res.status_code == status, res.get_data(as_text=True)
    body = res.get_json()
    assert isinstance(body, list) and body and body[0]["code"] == status and body[0]["description"]


def test_r01_open311_services(setup):
    app, _ = setup
    client = app.test_client()
    res = client.get(f"{BASE}/services.json")
    assert res.status_code == 200
    services = res.get_json()
    assert len(services) == len(CATEGORIES)
    by_code = {s["service_code"]: s for s in services}
    assert by_code["street_lights"]["service_name"] == "明灯哨"
    for s in services:
        assert s["metadata"] is False and s["type"] == "realtime"
        assert s["service_name"] and s["description"] and s["keywords"] and s["group"]
    res = client.get(f"{BASE}/services/transport.json")
    assert res.status_code == 200 and res.get_json() == {"service_code": "transport", "attributes": []}
    _assert_error(client.get(f"{BASE}/services/nope.json"), 404)


def test_r01_open311_create_with_api_key_and_read_back(setup):
    app, factory = setup
    client = app.test_client()
    res = _post(client, {"api_key": KEY, "service_code": "transport", "description": "公交站点离小区太远\n希望增设站点",
                         "lat": "31.6890", "long": "118.5070", "address_string": "花园路 12 号",
                         "first_name": "三", "last_name": "张", "phone": "13900000000",
                         "attribute[community_id]": "hs-jfl-sq2"})
    assert res.status_code == 201, res.get_json()
    [created] = res.get_json()
    public_id = created["service_request_id"]
    with factory() as session:
        whistle = _by_public_id(session, public_id)
        number = whistle.whistle_no
        assert created["service_notice"] and number in created["service_notice"]
        assert whistle.public    # reported by the residents' platform: readable there
        assert whistle.community_id == "hs-jfl-sq2" and whistle.street_id == "hs-jfl"
        assert whistle.category == "交通出行" and whistle.source == "platform"
        assert whistle.title.startswith("交通出行：公交站点离小区太远")
        assert "花园路 12 号" in whistle.location and "31.689000,118.507000" in whistle.location
        assert "13900000000" in whistle.reporter
        assert whistle.instance_id is not None

    res = client.get(f"{BASE}/requests/{public_id}.json")
    assert res.status_code == 200
    [item] = res.get_json()
    assert item["service_request_id"] == public_id and item["status"] == "open"
    assert item["service_name"] == "交通出行" and item["service_code"] == "transport"
    assert ISO.match(item["requested_datetime"]) and ISO.match(item["updated_datetime"])
    assert item["address"] is None and item["description"] is None    # without the key: status only
    assert number in item["status_notes"]
    res = client.get(f"{BASE}/requests/{public_id}.json", query_string={"api_key": KEY})
    [item] = res.get_json()
    assert item["address"].startswith("花园路 12 号") and item["description"].startswith("公交站点")

    # R19: the latest reply to residents is the status note
    with write_session(factory) as session:
        whistle = _by_public_id(session, public_id)
        record_reply(session, whistle, "已上报街道协调。", actor="sq-hs-jfl-sq2")
    res = client.get(f"{BASE}/requests.json", query_string={"service_request_id": public_id})
    assert res.status_code == 200
    assert [i["status_notes"] for i in res.get_json()] == ["已上报街道协调。"]
    res = client.get(f"{BASE}/requests.json", query_string={"service_code": "transport", "status": "open",
                                                          "api_key": KEY})
    assert public_id in [i["service_request_id"] for i in res.get_json()]


def test_r01_open311_create_with_officer_token(setup):
    app, factory = setup
    client = app.test_client()
    token = _token(client, "wg-hs-jfl-sq1")
    res = _post(client, {"service_code": "street_lights", "description": "楼道灯不亮", "address_string": "湖北路 3 号"},
                headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 201, res.get_json()
    with factory() as session:
        whistle = _by_public_id(session, res.get_json()[0]["service_request_id"])
        assert whistle.community_id == "hs-jfl-sq1" and whistle.category == "明灯"
        assert not whistle.public    # entered by an officer: internal unless marked public
    # a grid worker cannot report to another community
    res = _post(client, {"service_code": "street_lights", "address_string": "x", "community_id": "hs-jfl-sq2"},
                headers={"Authorization": f"Bearer {token}"})
    _assert_error(res, 403)


def test_r01_open311_bad_input_is_400(setup):
    app, _ = setup
    client = app.test_client()
    good = {"api_key": KEY, "service_code": "safety", "address_string": "花园路", "community_id": "hs-jfl-sq1"}
    for change in ({"service_code": ""}, {"service_code": "nope"}, {"community_id": ""},
                   {"community_id": "no-such-community"}, {"community_id": "hs-jfl"},
                   {"address_string": ""}, {"address_string": "", "lat": "31.6"},
                   {"lat": "abc", "long": "118"}, {"lat": "95", "long": "118"},
                   {"description": "x" * 5000}):
        res = _post(client, {**good, **change})
        _assert_error(res, 400)
    _assert_error(client.get(f"{BASE}/requests.json", query_string={"status": "maybe", "api_key": KEY}), 400)
    _assert_error(client.get(f"{BASE}/requests.json", query_string={"start_date": "yesterday", "api_key": KEY}), 400)


def test_r01_open311_unknown_id_is_404(setup):
    app, _ = setup
    client = app.test_client()
    _assert_error(client.get(f"{BASE}/requests/HS-2099-99999.json"), 404)
    _assert_error(client.get(f"{BASE}/requests/1.json"), 404)
    _assert_error(client.get(f"{BASE}/requests.json", query_string={"service_request_id": "HS-2099-99999"}), 404)
    _assert_error(client.get(f"{BASE}/no-such-endpoint.json"), 404)


def test_r01_open311_needs_credentials(setup):
    app, _ = setup
    client = app.test_client()
    data = {"service_code": "safety", "address_string": "花园路", "community_id": "hs-jfl-sq1"}
    _assert_error(_post(client, data), 403)
    _assert_error(_post(client, {**data, "api_key": "wrong"}), 403)
    _assert_error(_post(client, data, headers={"Authorization": "Bearer forged"}), 403)
    street = _token(client, "jd-hs-jfl")
    _assert_error(_post(client, data, headers={"Authorization": f"Bearer {street}"}), 403)


def test_r01_open311_without_configured_key_refuses_every_key(db_url, tmp_path):
    prepare_database(db_url).kw["bind"].dispose()
    app = make_app(db_url, tmp_path)
    try:
        res = _post(app.test_client(), {"api_key": "", "service_code": "safety", "address_string": "x",
                                        "community_id": "hs-jfl-sq1"})
        _assert_error(res, 403)
        res = _post(app.test_client(), {"api_key": "anything", "service_code": "safety", "address_string": "x",
                                        "community_id": "hs-jfl-sq1"})
        _assert_error(res, 403)
    finally:
        dispose(app)
