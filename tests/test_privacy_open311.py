"""PIPL on the residents' platform interface (Open311): without a key a request shows its status
and the replies only; requests are known by random ids, not by guessable whistle numbers; listing
needs the key and is paged; whistles officers entered are internal unless marked public."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from governance.models import Whistle
from tests.webkit import DEMO_PASSWORD, demo_app, report

KEY = "platform-secret-key"
BASE = "/open311/v2"
PHONE, ID_NO, NAME, ADDRESS = "13912345678", "340503199001011234", "张三丰", "花园路 12 号 3 栋 401 室"


@pytest.fixture
def site(db_url, tmp_path):
    with demo_app(db_url, tmp_path, OPEN311_API_KEY=KEY) as pair:
        yield pair


def _report(client, description=f"楼道灯坏了，联系我 {PHONE}，身份证 {ID_NO}", **extra):
    res = client.post(f"{BASE}/requests.json", data={
        "api_key": KEY, "service_code": "street_lights", "description": description, "address_string": ADDRESS,
        "first_name": "三丰", "last_name": "张", "phone": PHONE, "attribute[community_id]": "hs-jfl-sq1", **extra})
    assert res.status_code == 201, res.get_data(as_text=True)
    return res.get_json()[0]["service_request_id"]


def _whistle(factory, public_id) -> Whistle:
    with factory() as session:
        return session.scalars(select(Whistle).where(Whistle.public_id == public_id)).one()


def test_pipl_open311_read_without_key_shows_status_and_replies_only(site):
    app, factory = site
    client = app.test_client()
    public_id = _report(client)
    res = client.get(f"{BASE}/requests/{public_id}.json")
    assert res.status_code == 200
    [item] = res.get_json()
    assert item["status"] == "open" and item["status_notes"]
    text = json.dumps(res.get_json(), ensure_ascii=False)
    for secret in (PHONE, ID_NO, NAME, "三丰", ADDRESS, "花园路", "楼道灯坏了"):
        assert secret not in text, secret
    assert item["description"] is None and item["address"] is None and item["community_id"] is None
    # the platform (its key) sees the description with the numbers masked, and the address
    [keyed] = client.get(f"{BASE}/requests/{public_id}.json", query_string={"api_key": KEY}).get_json()
    assert keyed["description"].startswith("楼道灯坏了") and keyed["address"].startswith(ADDRESS)
    assert PHONE not in keyed["description"] and ID_NO not in keyed["description"]
    assert "139******78" in keyed["description"]
    assert NAME not in json.dumps(keyed, ensure_ascii=False) and PHONE not in json.dumps(keyed)


def test_pipl_open311_ids_are_random_and_numbers_do_not_answer_without_key(site):
    app, factory = site
    client = app.test_client()
    ids = [_report(client, description=f"第{i}件") for i in range(3)]
    numbers = [_whistle(factory, i).whistle_no for i in ids]
    assert len(set(ids)) == 3
    for public_id, number in zip(ids, numbers):
        assert public_id != number and len(public_id) >= 16
        assert not any(part in public_id for part in number.split("-") if len(part) > 2)
    # the sequential numbers (and the register's ids) no longer answer without the key …
    for number in numbers:
        assert client.get(f"{BASE}/requests/{number}.json").status_code == 404
        res = client.get(f"{BASE}/requests.json", query_string={"service_request_id": number})
        assert res.status_code == 404
    whistle_id = _whistle(factory, ids[0]).id
    assert client.get(f"{BASE}/requests/{whistle_id}.json").status_code == 404
    # … with the key the platform may still name its older requests by number
    res = client.get(f"{BASE}/requests/{numbers[0]}.json", query_string={"api_key": KEY})
    assert res.status_code == 200 and res.get_json()[0]["service_request_id"] == ids[0]
    # a wrong key is refused, not treated as no key
    assert client.get(f"{BASE}/requests/{ids[0]}.json", query_string={"api_key": "guess"}).status_code == 403


def test_pipl_open311_listing_by_date_needs_the_key_and_is_paged(site):
    app, _ = site
    client = app.test_client()
    ids = [_report(client, description=f"第{i}件") for i in range(5)]
    res = client.get(f"{BASE}/requests.json")
    assert res.status_code == 403 and res.get_json()[0]["code"] == 403
    res = client.get(f"{BASE}/requests.json", query_string={"status": "open", "start_date": "2026-01-01"})
    assert res.status_code == 403
    seen = []
    query = {"api_key": KEY, "page_size": 2}
    res = client.get(f"{BASE}/requests.json", query_string=query)
    assert res.status_code == 200 and res.headers["X-Total-Count"] == "5"
    while True:
        seen += [i["service_request_id"] for i in res.get_json()]
        assert len(res.get_json()) <= 2
        link = res.headers.get("Link")
        if not link:
            break
        assert KEY not in link and 'rel="next"' in link
        next_url = link[1:link.index(">")]
        res = client.get(f"{next_url}&api_key={KEY}")
        assert res.status_code == 200
    assert sorted(seen) == sorted(ids)
    for bad in ({"page": "0"}, {"page_size": "100000"}, {"page": "x"}):
        res = client.get(f"{BASE}/requests.json", query_string={**query, **bad})
        assert res.status_code == 400, bad


def test_pipl_open311_internal_whistles_are_not_public_unless_marked(site):
    app, factory = site
    client = app.test_client()
    _, _, number = report(factory)        # entered by a grid worker in the web form
    with factory() as session:
        internal = session.scalars(select(Whistle).where(Whistle.whistle_no == number)).one()
        assert internal.public is False and internal.public_id
    for query in ({}, {"api_key": KEY}):
        assert client.get(f"{BASE}/requests/{internal.public_id}.json", query_string=query).status_code == 404
        assert client.get(f"{BASE}/requests/{number}.json", query_string=query).status_code == 404
    listed = client.get(f"{BASE}/requests.json", query_string={"api_key": KEY}).get_json()
    assert internal.public_id not in [i["service_request_id"] for i in listed]
    # an officer reporting through Open311: internal, unless the officer marks it public
    token = client.post("/api/v1/session", json={"username": "wg-hs-jfl-sq1", "password": DEMO_PASSWORD}).get_json()["token"]
    data = {"service_code": "safety", "description": "消防通道堵塞", "address_string": "湖北路 3 号"}
    auth = {"Authorization": f"Bearer {token}"}
    hidden = client.post(f"{BASE}/requests.json", data=data, headers=auth).get_json()[0]["service_request_id"]
    shown = client.post(f"{BASE}/requests.json", data={**data, "attribute[public]": "true"},
                        headers=auth).get_json()[0]["service_request_id"]
    assert client.get(f"{BASE}/requests/{hidden}.json").status_code == 404
    assert client.get(f"{BASE}/requests/{shown}.json").status_code == 200
