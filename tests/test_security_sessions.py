"""Issue 10, secrets and accounts: logout, a password change and an administrator's password reset
end every session and API token of that officer (a per-officer session version in each); a
configured secret is required outside tests. Through HTTP, as officers use it."""
from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer

from tests.webkit import csrf_token, demo_app, logged_in, login

OFFICER = "sq-hs-jfl-sq1"


@pytest.fixture
def site(db_url, tmp_path):
    with demo_app(db_url, tmp_path) as site:
        yield site


def _token(client, username=OFFICER, password="demo1234"):
    response = client.post("/api/v1/session", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": "Bearer " + response.get_json()["token"]}


def _post(client, url, data, page_url):
    page = client.get(page_url)
    return client.post(url, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))})


def _still_in(client) -> bool:
    return client.get("/inbox").status_code == 200


def _token_works(app, headers) -> bool:
    return app.test_client().get("/api/v1/me", headers=headers).status_code == 200


def test_logout_ends_every_session_and_api_token_of_the_officer(site):
    app, _ = site
    laptop, phone = logged_in(app, OFFICER), logged_in(app, OFFICER)
    other = logged_in(app, "jd-hs-jfl")
    headers = _token(app.test_client())
    assert _still_in(laptop) and _still_in(phone) and _token_works(app, headers)

    assert _post(laptop, "/logout", {}, page_url="/inbox").status_code == 302

    assert not _still_in(laptop) and not _still_in(phone)
    assert not _token_works(app, headers)
    assert _still_in(other)                                  # another officer is not touched
    assert _still_in(logged_in(app, OFFICER))                # logging in again works


def test_officer_changes_own_password_and_every_session_ends(site):
    app, _ = site
    client, phone = logged_in(app, OFFICER), logged_in(app, OFFICER)
    headers = _token(app.test_client())
    page = client.get("/inbox").get_data(as_text=True)
    assert 'href="/account/password"' in page                # reachable from every page
    form = client.get("/account/password")
    assert form.status_code == 200 and 'name="current_password"' in form.get_data(as_text=True)

    done = _post(client, "/account/password", {"current_password": "demo1234", "new_password": "a-new-pass-2026",
                                               "confirm_password": "a-new-pass-2026"}, "/account/password")
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert not _still_in(client) and not _still_in(phone) and not _token_works(app, headers)
    fresh = app.test_client()
    assert login(fresh, OFFICER).status_code == 401                    # the demo password is gone
    assert login(fresh, OFFICER, "a-new-pass-2026").status_code == 302
    assert _still_in(fresh)


@pytest.mark.parametrize("fields, message, english", [
    ({"current_password": "wrong-one", "new_password": "a-new-pass-2026", "confirm_password": "a-new-pass-2026"},
     "当前密码不正确", "current password is wrong"),
    ({"current_password": "demo1234", "new_password": "short", "confirm_password": "short"},
     "新密码至少需要 8 个字符", "at least 8 characters"),
    ({"current_password": "demo1234", "new_password": "a-new-pass-2026", "confirm_password": "another-pass-26"},
     "两次输入的新密码不一致", "do not match"),
    ({"current_password": "demo1234", "new_password": "demo1234", "confirm_password": "demo1234"},
     "新密码不能与当前密码相同", "must differ"),
])
def test_a_refused_password_change_says_why_and_changes_nothing(site, fields, message, english):
    app, _ = site
    client = logged_in(app, OFFICER)
    headers = _token(app.test_client())
    refused = _post(client, "/account/password", fields, "/account/password")
    assert refused.status_code == 400 and message in refused.get_data(as_text=True)
    assert _still_in(client) and _token_works(app, headers)
    assert login(app.test_client(), OFFICER).status_code == 302       # the old password still works
    en = client.post("/account/password?lang=en", data={**fields, "csrf_token": csrf_token(
        client.get("/account/password?lang=en").get_data(as_text=True))})
    assert en.status_code == 400 and english in en.get_data(as_text=True)


def test_password_change_needs_the_csrf_token_and_a_login(site):
    app, _ = site
    client = logged_in(app, OFFICER)
    forged = client.post("/account/password", data={"current_password": "demo1234", "new_password": "a-new-pass-2026",
                                                     "confirm_password": "a-new-pass-2026"})
    assert forged.status_code == 400
    assert login(app.test_client(), OFFICER).status_code == 302
    assert app.test_client().get("/account/password").status_code == 302   # to the login page


def test_administrator_reset_ends_every_session_and_token_of_that_officer(site):
    app, _ = site
    officer = logged_in(app, OFFICER)
    headers = _token(app.test_client())
    admin = logged_in(app, "admin")
    reset = _post(admin, f"/admin/officers/{OFFICER}/password", {"password": "reset-by-admin-1"}, "/admin/officers")
    assert reset.status_code == 302
    assert not _still_in(officer) and not _token_works(app, headers)
    assert admin.get("/admin/officers").status_code == 200            # the administrator stays in
    assert login(app.test_client(), OFFICER, "reset-by-admin-1").status_code == 302


def test_a_token_signed_without_the_session_version_is_refused(site):
    app, factory = site
    from governance.officers import get_officer
    with factory() as session:
        officer_id = get_officer(session, OFFICER).id
    with app.app_context():
        old_style = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="whistle-api-token").dumps(
            {"uid": officer_id, "u": OFFICER})
    assert not _token_works(app, {"Authorization": "Bearer " + old_style})


def test_the_app_refuses_to_run_without_a_configured_secret(db_url, tmp_path, monkeypatch):
    from webapp import create_app
    from webapp.secret_key import SecretKeyError
    monkeypatch.delenv("WHISTLE_SECRET_KEY", raising=False)
    monkeypatch.delenv("WHISTLE_SECRET_KEY_FILE", raising=False)
    base = {"DATABASE_URL": db_url, "UPLOAD_FOLDER": str(tmp_path)}
    with pytest.raises(SecretKeyError, match="no secret key configured"):
        create_app(base)
    with pytest.raises(SecretKeyError, match="published"):
        create_app({**base, "SECRET_KEY": "dev-only-change-me"})
    with pytest.raises(SecretKeyError, match="too short"):
        create_app({**base, "SECRET_KEY": "short-key"})
    key_file = tmp_path / "key"
    key_file.write_text("k" * 40)
    key_file.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        create_app({**base, "SECRET_KEY_FILE": str(key_file)})
    key_file.chmod(0o600)
    app = create_app({**base, "SECRET_KEY_FILE": str(key_file)})
    assert app.config["SECRET_KEY"] == "k" * 40
    app.extensions["sessions"].kw["bind"].dispose()
    monkeypatch.setenv("WHISTLE_SECRET_KEY", "e" * 40)
    app = create_app(base)
    assert app.config["SECRET_KEY"] == "e" * 40
    app.extensions["sessions"].kw["bind"].dispose()



def test_guessing_the_current_password_counts_as_failed_logins(site):
    """A borrowed session cannot try passwords on the change page without limit."""
    app, _ = site
    client = logged_in(app, OFFICER)
    wrong = {"current_password": "guess", "new_password": "a-new-pass-2026", "confirm_password": "a-new-pass-2026"}
    for i in range(5):
        assert _post(client, "/account/password", {**wrong, "current_password": f"guess-{i}"},
                     "/account/password").status_code == 400
    right = _post(client, "/account/password", {**wrong, "current_password": "demo1234"}, "/account/password")
    assert right.status_code == 429 and "尝试次数过多" in right.get_data(as_text=True)
    assert login(app.test_client(), OFFICER).status_code == 429       # the account is locked for logins too
