"""The OpenAPI document fed to a schema-based fuzzer: whatever a client sends, no 5xx."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests import webkit as testing


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'fuzz.db'}"
    factory = testing.prepare_database(url)
    testing.report(factory)  # something to read
    app = testing.make_app(url, folder, RATELIMIT_ENABLED=False)
    token = app.test_client().post("/api/v1/session", json={"username": "sq-hs-jfl-sq1",
                                                            "password": testing.DEMO_PASSWORD}).get_json()["token"]
    app.config["FUZZ_TOKEN"] = token
    yield app
    testing.dispose(app)


def test_no_request_makes_the_api_fail(fuzz_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    headers = {"Authorization": f"Bearer {fuzz_app.config['FUZZ_TOKEN']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case):
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")
            elif response.status_code >= 400:
                body = response.json()
                assert body["error"]["code"] and body["error"]["message"], body
        exercise()
    assert failures == []
