"""Third-party and hostile diagrams (../shared/corpus) uploaded through POST /api/v1/processes: each
deploys (201) or is refused (422) with readable errors naming the problem; never a 500. Everything
hostile but the control is refused; bundles deploy as one set."""
from pathlib import Path

import pytest

from tests.policy_kit import policy_site, token, upload

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"

if not CORPUS.is_dir():
    pytest.skip("needs ../shared/corpus", allow_module_level=True)


def deployment_sets() -> list[tuple[str, dict[str, bytes]]]:
    sets = []
    for path in sorted(CORPUS.rglob("*.bpmn")):
        if any(part.endswith(".bundle") for part in path.relative_to(CORPUS).parts):
            continue
        sets.append((str(path.relative_to(CORPUS)), {path.name: path.read_bytes()}))
    for bundle in sorted(CORPUS.rglob("*.bundle")):
        sets.append((str(bundle.relative_to(CORPUS)), {f.name: f.read_bytes() for f in sorted(bundle.iterdir())
                                                        if f.is_file()}))
    return sets


@pytest.fixture
def site(db_url, tmp_path):
    with policy_site(db_url, tmp_path) as s:
        yield s


def test_every_corpus_diagram_deploys_or_is_refused_readably(site):
    client = site.app.test_client()
    staff = token(client, "policy")
    outcomes = {}
    for name, files in deployment_sets():
        response = upload(client, staff, files)
        assert response.status_code in (200, 201, 422), (name, response.status_code, response.get_data()[:500])
        body = response.get_json()
        if response.status_code == 422:
            assert body["error"]["code"] in ("deploy_refused", "invalid"), name
            assert body["errors"], name
            for error in body["errors"]:
                assert isinstance(error["message"], str) and len(error["message"]) > 5, (name, error)
                assert "Traceback" not in error["message"], (name, error)
        else:
            assert body["versions"], name
        outcomes[name] = response.status_code
    hostile = {n: c for n, c in outcomes.items() if n.startswith("hostile/")}
    assert len(hostile) >= 10
    for name, code in hostile.items():
        if name.endswith("control-valid-minimal.bpmn"):
            continue
        assert code == 422, name
    assert any(c == 201 for c in outcomes.values())       # some third-party diagrams are executable as they are
    assert len(outcomes) >= 120
