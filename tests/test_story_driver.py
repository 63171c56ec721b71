"""The story driver's orphan check fails a story on a ready task that no officer can reach."""
import pytest
from sqlalchemy import select

from engine.db import write_session
from engine.models import InboxTask
from tests.procedure_kit import OrphanTask, World, local
from tests.webkit import prepare_database


@pytest.fixture
def fresh_world(db_url):
    factory = prepare_database(db_url)
    yield World(factory, db_url.split(":")[0])
    factory.kw["bind"].dispose()


def _retarget(world, w, **changes):
    with write_session(world.factory) as session:
        [task] = session.scalars(select(InboxTask).where(InboxTask.instance_id == world.whistle(w).instance_id))
        for key, value in changes.items():
            setattr(task, key, value)


@pytest.mark.parametrize("changes", [{"unit_id": "hs-jfl"},          # a street: no community officer there
                                     {"unit_id": None},
                                     {"role": "street"}])              # the community's unit, the wrong role
def test_a_ready_task_that_no_officer_of_one_unit_sees_fails_the_story(fresh_world, changes):
    w = fresh_world.report("路灯不亮", at=local(2026, 11, 2, 9), community_id="hs-jfl-sq1")
    assert fresh_world.ready(w) == [("triage", "community", "hs-jfl-sq1")]
    _retarget(fresh_world, w, **changes)
    fresh_world._reachable.clear()
    with pytest.raises(OrphanTask, match="orphan task: ready task 'triage'"):
        fresh_world.check_reachable(local(2026, 11, 2, 10))
