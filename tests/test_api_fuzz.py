"""Whatever a client sends, no 5xx: the JSON API (its OpenAPI document, fuzzed by schemathesis),
Open311 (a small OpenAPI description of /open311/v2 below, fuzzed the same way) and the query
parameters of every HTML page (Hypothesis over the app's URL map, with the values that broke
things before: NUL bytes, impossible dates, years out of range, huge numbers, lone surrogates),
on SQLite and on PostgreSQL (which refuses NUL bytes and out-of-range integers outright)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import webkit as testing
from tests.conftest import scratch_database

KEY = "fuzz-platform-key"
FUZZ = dict(deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_app(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with scratch_database(request.param, folder) as url:
        factory = testing.prepare_database(url)
        _, instance_id, _ = testing.report(factory)  # something to read
        testing.advance(factory, instance_id, "consultation_reply")
        app = testing.make_app(url, folder, RATELIMIT_ENABLED=False, OPEN311_API_KEY=KEY)
        token = app.test_client().post("/api/v1/session", json={"username": "sq-hs-jfl-sq1",
                                                                "password": testing.DEMO_PASSWORD}).get_json()["token"]
        app.config["FUZZ_TOKEN"] = token
        yield app
        testing.dispose(app)
        factory.kw["bind"].dispose()


def _run_schema(schema, headers, check_body, examples=25):
    operations = [result.ok() for result in schema.get_all_operations()]
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=examples, **FUZZ)
        def exercise(case):
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")
            elif response.status_code >= 400:
                check_body(response.json())
        exercise()
    return operations, failures


def _api_error(body):
    assert body["error"]["code"] and body["error"]["message"], body


def test_no_request_makes_the_api_fail(fuzz_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    headers = {"Authorization": f"Bearer {fuzz_app.config['FUZZ_TOKEN']}"}
    operations, failures = _run_schema(schema, headers, _api_error)
    assert len(operations) >= 6
    assert failures == [], "\n".join(failures)


# -- Open311 --------------------------------------------------------------------------------

def _open311_document() -> dict:
    text = {"type": "string"}
    param = lambda name, where="query", **schema: {"name": name, "in": where, "required": where == "path",  # noqa: E731
                                                    "schema": schema or text}
    form = {"type": "object", "properties": {
        name: text for name in ("api_key", "service_code", "description", "lat", "long", "address_string",
                                "address_id", "first_name", "last_name", "phone", "email", "media_url",
                                "attribute[community_id]", "community_id", "attribute[public]")}}
    errors = {"description": "an Open311 error array"}
    listing = [param(n) for n in ("api_key", "service_request_id", "service_code", "status", "start_date",
                                  "end_date", "page", "page_size")]
    return {
        "openapi": "3.0.3", "info": {"title": "Open311 GeoReport v2 (fuzz)", "version": "2"},
        "paths": {
            "/open311/v2/services.json": {"get": {"responses": {"200": {"description": "services"}}}},
            "/open311/v2/services/{code}.json": {"get": {"parameters": [param("code", "path")],
                                                         "responses": {"200": {"description": "one"}, "404": errors}}},
            "/open311/v2/requests.json": {
                "get": {"parameters": listing, "responses": {"200": {"description": "requests"}}},
                "post": {"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": form}}},
                         "responses": {"201": {"description": "created"}, "400": errors, "403": errors}}},
            "/open311/v2/requests/{request_id}.json": {
                "get": {"parameters": [param("request_id", "path"), param("api_key")],
                        "responses": {"200": {"description": "one"}, "404": errors}}},
        },
    }


def _open311_error(body):
    assert isinstance(body, list) and body[0]["code"] and body[0]["description"], body


def test_no_request_makes_open311_fail(fuzz_app):
    schema = schemathesis.openapi.from_dict(_open311_document())
    schema.app = fuzz_app
    for headers in ({}, {"Authorization": f"Bearer {fuzz_app.config['FUZZ_TOKEN']}"}):
        operations, failures = _run_schema(schema, headers, _open311_error, examples=30)
        assert len(operations) == 5
        assert failures == [], "\n".join(failures)


# -- the pages' query parameters -------------------------------------------------------------

WEBAPP = Path(__file__).resolve().parent.parent / "webapp"
NASTY = ["", "\x00", "a\x00b", "2026-02-30", "2026-13-01", "2026-11-16", "0001-01-01", "9999-12-31T23:59:59+14:00",
         "-1", "0", "1", "2026", "99999", "-99999999999999999999", "99999999999999999999", "1e309", "NaN", "inf",
         "\ud800", "x\udfffy", "𝕏", "' OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd", "%", "_",
         "x" * 3000, "true", "hs", "hs-jfl", "hs-jfl-sq1", "hs-cgj", "交通出行", "triage", "closed", "xlsx",
         "en", "zh", "[]", "{}", "null"]
# the values that made pages fail before (each page gets each of them once, below)
BROKE_BEFORE = ["\x00", "2026-02-30", "2026-13-01", "0001-01-01", "9999-12-31T23:59:59+14:00", "-1", "99999",
                "99999999999999999999", "-99999999999999999999", "1e309", "NaN", "\ud800", "x" * 3000, "'", "%"]
ROLES = [None, "admin", "sq-hs-jfl-sq1", "jd-hs-jfl", "zzb-hs", "zzb-mas", "bm-hs-cgj", "policy", "wg-hs-jfl-sq1"]
SKIP = ("/static", "/api/", "/open311/", "/logout")


def _parameter_names() -> list[str]:
    """Every query parameter name the web app reads: args.get / getlist / args[...] in its sources,
    the names of `for k in (...)` loops that read args, and the figures' filter keys."""
    from governance.stats import FILTER_KEYS
    names = set(FILTER_KEYS)
    for path in WEBAPP.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"""args\.get(?:list)?\(\s*["']([\w\[\]]+)["']""", source))
        names |= set(re.findall(r"""args\[\s*["'](\w+)["']\s*\]""", source))
        for line in source.splitlines():
            if "args" in line and " for " in line:
                for group in re.findall(r"for \w+(?:, \w+)? in \(([^)]*)\)", line):
                    names |= set(re.findall(r"""["'](\w+)["']""", group))
    return sorted(names | {"lang", "page", "year", "q", "process", "status", "after", "created", "limit"})


def _encode(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _url(rule, arguments: dict, query: dict) -> str:
    path = rule.rule
    for name, value in arguments.items():
        path = re.sub(r"<(?:[^:<>]+:)?%s>" % name, _encode(str(value)), path)
    qs = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in query.items())
    return f"{path}?{qs}" if qs else path


def _path_values(rule):
    ints = st.sampled_from([1, 2, 0, 2026, 1999, 99999, 2**31, 2**63, 10**20])
    texts = st.sampled_from(["x", "1", "hs", "register", "xlsx", "csv", "triage.json", "\x00", "\ud800", "a" * 300,
                             "2026", "00000000-0000-0000-0000-000000000000"])
    return st.fixed_dictionaries({name: (ints if type(rule._converters[name]).__name__ == "IntegerConverter" else texts)
                                  for name in rule.arguments})


@pytest.fixture(scope="module")
def page_rules(fuzz_app):
    return [r for r in fuzz_app.url_map.iter_rules()
            if "GET" in r.methods and not r.rule.startswith(SKIP)]


@pytest.fixture(scope="module")
def clients(fuzz_app):
    return {role: (testing.logged_in(fuzz_app, role) if role else fuzz_app.test_client()) for role in ROLES}


def test_no_query_parameter_makes_a_page_fail(fuzz_app, page_rules, clients):
    names = _parameter_names()
    assert {"year", "page", "date_from", "q"} <= set(names) and len(page_rules) > 30
    failures = []
    values = st.one_of(st.sampled_from(NASTY), st.text(max_size=40))

    @given(role=st.sampled_from(ROLES), rule=st.sampled_from(page_rules), data=st.data(),
           query=st.dictionaries(st.sampled_from(names), values, max_size=6))
    @settings(max_examples=400, **FUZZ)
    def exercise(role, rule, data, query):
        url = _url(rule, data.draw(_path_values(rule)), query)
        response = clients[role].get(url)
        if response.status_code >= 500:
            failures.append(f"{role} GET {url[:300]} -> {response.status_code}")

    exercise()
    assert failures == [], "\n".join(failures)


def test_every_page_takes_every_nasty_value(fuzz_app, page_rules, clients):
    """Deterministically: each page, each value that broke pages before in every parameter at once,
    as an administrator (who may open every page) and without login (the fuzzing above samples)."""
    names = _parameter_names()
    failures = []
    for rule in page_rules:
        arguments = {n: (1 if type(rule._converters[n]).__name__ == "IntegerConverter" else "x") for n in rule.arguments}
        for value in BROKE_BEFORE:
            url = _url(rule, arguments, {n: value for n in names})
            for role in ("admin", None):
                response = clients[role].get(url)
                if response.status_code >= 500:
                    failures.append(f"{role} GET {rule.rule} = {value[:20]!r} -> {response.status_code}")
    assert failures == [], "\n".join(failures)


# -- bodies that cannot be stored or parsed ---------------------------------------------------

DEEP = "[" * 50_000 + "]" * 50_000


def test_hostile_json_bodies_are_refused_not_failed(fuzz_app):
    client = fuzz_app.test_client()
    headers = {"Authorization": f"Bearer {fuzz_app.config['FUZZ_TOKEN']}", "Content-Type": "application/json"}
    bodies = [DEEP, '{"title": ' + DEEP + "}", json.dumps({"title": "a\x00b"}), '{"title": "\\ud800"}',
              '{"title": "ok", "description": "x\\udfffy"}', json.dumps({"username": "a\x00", "password": "b"})]
    for path in ("/api/v1/whistles", "/api/v1/session", "/api/v1/tasks/00000000-0000-0000-0000-000000000000"):
        for body in bodies:
            response = client.post(path, data=body, headers=headers)
            assert response.status_code < 500 and response.status_code in (400, 401, 404, 409, 413, 422), \
                (path, body[:40], response.status_code, response.get_data(as_text=True)[:200])
            assert response.get_json()["error"]["message"]


def test_hostile_form_values_are_refused_not_failed(fuzz_app, clients):
    client = clients["wg-hs-jfl-sq1"]
    page = client.get("/report").get_data(as_text=True)
    for value in ("a\x00b", "\x00"):
        response = client.post("/report", data={"csrf_token": testing.csrf_token(page), "title": value,
                                                "community_id": "hs-jfl-sq1", "source": "patrol",
                                                "description": value, "location": value})
        assert response.status_code in (400, 422), response.status_code
    open311 = fuzz_app.test_client()
    for value in ("a\x00b", "%ED%A0%80"):
        response = open311.post("/open311/v2/requests.json",
                                data=f"api_key={KEY}&service_code=other&address_string={quote(value) if '%' not in value else value}"
                                     f"&community_id=hs-jfl-sq1&description=x",
                                content_type="application/x-www-form-urlencoded")
        assert response.status_code < 500, response.status_code
