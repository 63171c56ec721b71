"""Two clients complete the same task at once: one wins, the other is told the task is gone (409),
never that it is not theirs (403). The race is made certain: the losing request is held just after
it found the task and before its permission check, until the winner has committed."""
from __future__ import annotations

import threading

import pytest

from governance import workspace
from tests.webkit import DEMO_PASSWORD, STANDARD, demo_app, ready, report

USER = "sq-hs-jfl-sq1"


@pytest.fixture
def site(db_url, tmp_path):
    with demo_app(db_url, tmp_path) as pair:
        yield pair


def _client(app):
    client = app.test_client()
    token = client.post("/api/v1/session", json={"username": USER, "password": DEMO_PASSWORD}).get_json()["token"]
    return client, {"Authorization": f"Bearer {token}"}


def test_losing_concurrent_completion_answers_409_not_403(site, monkeypatch):
    app, factory = site
    _, instance_id, _ = report(factory)
    [task] = ready(factory, instance_id)
    assert task.task == "triage"
    body = {"data": STANDARD["triage"]}
    (winner, winner_auth), (loser, loser_auth) = _client(app), _client(app)

    loser_waiting, winner_done = threading.Event(), threading.Event()
    original = workspace._inbox_query

    def held_inbox_query(officer):
        # the loser has found the task row; it waits here until the winner has completed the task
        if threading.current_thread().name == "loser" and not winner_done.is_set():
            loser_waiting.set()
            assert winner_done.wait(30)
        return original(officer)

    monkeypatch.setattr(workspace, "_inbox_query", held_inbox_query)
    result = {}

    def lose():
        result["loser"] = loser.post(f"/api/v1/tasks/{task.id}", json=body, headers=loser_auth)

    thread = threading.Thread(target=lose, name="loser")
    thread.start()
    try:
        assert loser_waiting.wait(30)
        won = winner.post(f"/api/v1/tasks/{task.id}", json=body, headers=winner_auth)
        assert won.status_code == 200, won.get_json()
    finally:
        winner_done.set()
        thread.join(30)
    lost = result["loser"]
    assert lost.status_code == 409, lost.get_json()
    assert lost.get_json()["error"]["code"] != "forbidden"
    assert [t.task for t in ready(factory, instance_id)] != ["triage"]     # completed once


def test_racing_completions_never_answer_403(site):
    """Without holding anyone: several rounds of two clients posting the same task together."""
    app, factory = site
    pairs = [_client(app), _client(app)]
    for _ in range(3):
        _, instance_id, _ = report(factory)
        [task] = ready(factory, instance_id)
        start = threading.Barrier(2)
        codes = []

        def go(client, auth):
            start.wait(10)
            codes.append(client.post(f"/api/v1/tasks/{task.id}", json={"data": STANDARD["triage"]},
                                     headers=auth).status_code)

        threads = [threading.Thread(target=go, args=pair) for pair in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(codes) == [200, 409], codes
