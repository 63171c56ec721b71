"""Issue 10: login limits hold across workers and behind a reverse proxy. Failed logins are counted
in the database per account (lockout with back-off) and per client address; the address comes from
X-Forwarded-For only when PROXY_HOPS says how many proxies are trusted. Two app instances over one
database stand for two gunicorn workers; the apps' injected clock moves time."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.webkit import DEFAULT_NOW, InjectedClock, csrf_token, dispose, login, make_app, prepare_database

OFFICER = "sq-hs-jfl-sq1"


@pytest.fixture
def workers(db_url, tmp_path):
    """Two apps ('workers') over one demo database, on one shared test clock."""
    factory = prepare_database(db_url)
    clock = InjectedClock(DEFAULT_NOW)
    apps = [make_app(db_url, tmp_path, CLOCK=clock) for _ in range(2)]
    try:
        yield apps, clock
    finally:
        for app in apps:
            dispose(app)
        factory.kw["bind"].dispose()


def _api_login(app, username, password, **headers):
    return app.test_client().post("/api/v1/session", json={"username": username, "password": password},
                                  headers=headers)


def test_failed_logins_of_one_account_are_counted_across_workers_and_lock_it(workers):
    (one, two), clock = workers
    codes = [login((one if i % 2 else two).test_client(), OFFICER, f"wrong-{i}").status_code for i in range(5)]
    assert codes == [401] * 5                                       # 5 failures, split over two workers
    locked = login(one.test_client(), OFFICER)                      # even the right password is refused now
    assert locked.status_code == 429 and "尝试次数过多" in locked.get_data(as_text=True)
    assert 55 <= int(locked.headers["Retry-After"]) <= 60         # (Flask-Limiter rewrites it by whole seconds)
    api = _api_login(two, OFFICER, "demo1234")                      # the API shares the count
    assert api.status_code == 429 and api.get_json()["error"]["code"] == "too_many_attempts"
    assert login(two.test_client(), "jd-hs-jfl").status_code == 302  # other accounts are not locked

    clock.set(DEFAULT_NOW + timedelta(seconds=61))                  # the lockout has passed …
    assert login(two.test_client(), OFFICER, "wrong-again").status_code == 401
    clock.set(DEFAULT_NOW + timedelta(seconds=61 + 61))             # … one more failure doubles it (back-off)
    assert login(one.test_client(), OFFICER).status_code == 429
    clock.set(DEFAULT_NOW + timedelta(seconds=61 + 121))
    assert login(one.test_client(), OFFICER).status_code == 302     # success clears the count
    assert login(two.test_client(), OFFICER, "wrong").status_code == 401
    assert login(two.test_client(), OFFICER).status_code == 302


def test_the_api_failures_count_for_the_account_too(workers):
    (one, two), _clock = workers
    for i in range(5):
        assert _api_login(one if i % 2 else two, OFFICER, f"wrong-{i}").status_code == 401
    assert login(one.test_client(), OFFICER).status_code == 429


def test_address_limit_counts_across_accounts_and_workers(db_url, tmp_path):
    prepare_database(db_url).kw["bind"].dispose()
    apps = [make_app(db_url, tmp_path, LOGIN_ADDRESS_MAX_FAILURES=4) for _ in range(2)]
    try:
        codes = [login(apps[i % 2].test_client(), f"nobody-{i}", "x").status_code for i in range(4)]
        assert codes == [401] * 4
        assert login(apps[0].test_client(), OFFICER).status_code == 429   # this address is refused for a while
    finally:
        for app in apps:
            dispose(app)


def test_behind_a_proxy_the_address_limit_uses_x_forwarded_for_only_when_configured(db_url, tmp_path):
    prepare_database(db_url).kw["bind"].dispose()
    proxied = make_app(db_url, tmp_path, PROXY_HOPS=1, LOGIN_ADDRESS_MAX_FAILURES=3)
    direct = make_app(db_url, tmp_path, LOGIN_ADDRESS_MAX_FAILURES=3)
    attacker, colleague = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "203.0.113.6"}
    try:
        for i in range(3):
            client = proxied.test_client()
            page = client.get("/login", headers=attacker)
            assert page.status_code == 200
            out = client.post("/login", headers=attacker, data={
                "username": f"guess-{i}", "password": "x", "csrf_token": csrf_token(page.get_data(as_text=True))})
            assert out.status_code == 401
        assert _api_login(proxied, OFFICER, "demo1234", **attacker).status_code == 429
        assert _api_login(proxied, OFFICER, "demo1234", **colleague).status_code == 200   # another client
        assert _api_login(proxied, OFFICER, "demo1234").status_code == 200                # the proxy itself

        # without PROXY_HOPS the header is not trusted: every request is the proxy's address
        for i in range(3):
            assert _api_login(direct, f"other-{i}", "x", **attacker).status_code == 401
        assert _api_login(direct, OFFICER, "demo1234", **colleague).status_code == 429
    finally:
        dispose(proxied)
        dispose(direct)
