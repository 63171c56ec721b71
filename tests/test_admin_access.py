"""Who may use the policy-staff and administrator pages and endpoints: every route of those
blueprints (taken from the URL map, so a new one cannot be forgotten) is 403 for an officer without
the role, 302 to the login page (pages) or 401 (API) without a login; policy staff reach theirs but
not the administrators'."""
import pytest

from tests.policy_kit import OFFICER, csrf_headers, logged_in, policy_site, token
from tests.webkit import report

SAMPLE = {"version_id": "1", "instance_id": "1", "name": "triage.json", "unit_id": "hs-jfl", "username": "admin",
          "action": "suspend", "a": "1", "b": "1"}
STAFF_BLUEPRINTS = ("processes.",)
ADMIN_BLUEPRINTS = ("admin.", "calendar_admin.")
API_ADMIN_ONLY = {"api_admin.list_instances", "api_admin.get_instance", "api_admin.instance_action",
                  "api_admin.bulk_migrate", "api_admin.overview"}


@pytest.fixture
def site(db_url, tmp_path):
    with policy_site(db_url, tmp_path) as s:
        report(s.factory)
        yield s


def routes(app, prefixes):
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(prefixes):
            continue
        url = rule.rule
        for key in rule.arguments:
            url = url.replace(f"<int:{key}>", SAMPLE[key]).replace(f"<{key}>", SAMPLE[key])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, url))
    assert out
    return out


def call(client, method, url, headers=None):
    if method == "GET":
        return client.get(url, headers=headers)
    return client.open(url, method=method, headers=headers, json={"reason": "x", "xml": "<x/>"})


def test_an_officer_without_the_role_gets_403_everywhere(site):
    web = logged_in(site.app, OFFICER)
    headers = csrf_headers(web)
    pages = routes(site.app, STAFF_BLUEPRINTS + ADMIN_BLUEPRINTS)
    assert len(pages) >= 25
    for endpoint, method, url in pages:
        assert call(web, method, url, headers).status_code == 403, (endpoint, method, url)
    api = site.app.test_client()
    bearer = token(api, OFFICER)
    for endpoint, method, url in routes(site.app, ("api_admin.",)):
        response = call(api, method, url, bearer)
        assert response.status_code == 403, (endpoint, method, url)
        assert response.get_json()["error"]["code"] == "forbidden"
    # the menu offers none of it
    menu = web.get("/inbox").get_data(as_text=True)
    assert "/processes" not in menu and "/admin/" not in menu


def test_without_login_pages_redirect_and_the_api_wants_a_token(site):
    client = site.app.test_client()
    for endpoint, method, url in routes(site.app, STAFF_BLUEPRINTS + ADMIN_BLUEPRINTS):
        if method != "GET":
            continue
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], (endpoint, url)
    for endpoint, method, url in routes(site.app, ("api_admin.",)):
        response = call(client, method, url)
        assert response.status_code == 401, (endpoint, method, url)


def test_policy_staff_reach_their_pages_but_not_the_administrators(site):
    web = logged_in(site.app, "policy")
    headers = csrf_headers(web)
    for endpoint, method, url in routes(site.app, STAFF_BLUEPRINTS):
        if method == "GET":
            assert web.get(url).status_code in (200, 302), (endpoint, url)
    for endpoint, method, url in routes(site.app, ADMIN_BLUEPRINTS):
        assert call(web, method, url, headers).status_code == 403, (endpoint, method, url)
    api = site.app.test_client()
    bearer = token(api, "policy")
    for endpoint, method, url in routes(site.app, ("api_admin.",)):
        response = call(api, method, url, bearer)
        if endpoint in API_ADMIN_ONLY:
            assert response.status_code == 403, (endpoint, method, url)
        else:
            assert response.status_code != 403, (endpoint, method, url)
    menu = web.get("/processes").get_data(as_text=True)
    assert 'data-testid="menu-processes"' in menu and 'data-testid="menu-instances"' not in menu
    admin_menu = logged_in(site.app, "admin").get("/inbox").get_data(as_text=True)
    assert 'data-testid="menu-processes"' in admin_menu and 'data-testid="menu-instances"' in admin_menu


def test_openapi_describes_the_new_endpoints(site):
    doc = site.app.test_client().get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    assert {"/processes", "/processes/check", "/instances", "/instances/{instance_id}",
            "/instances/{instance_id}/{action}", "/versions/{version_id}/rollback"} <= set(paths)
    assert "422" in paths["/processes"]["post"]["responses"] and "201" in paths["/processes"]["post"]["responses"]
    for name in ("DeployProblem", "InstanceList", "InstanceAction"):
        assert name in doc["components"]["schemas"]
    # every $ref resolves
    import json
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"].rsplit("/", 1)[-1])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(json.loads(json.dumps(doc)))
    assert refs <= set(doc["components"]["schemas"])
