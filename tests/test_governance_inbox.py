"""The inbox in SQL (SQLite and PostgreSQL): counts, filters, both orders and paging agree with a
computation made here from the raw rows, deadlines come from the register when the task has none,
and the number of queries does not grow with the number of tasks."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from engine.models import InboxTask, Instance
from governance import workspace
from governance.models import Consultation, Officer, Whistle
from tests.webkit import DEFAULT_NOW, advance, prepare_database, report


@pytest.fixture
def factory(db_url):
    factory = prepare_database(db_url)
    yield factory
    factory.kw["bind"].dispose()


def officer(factory, username: str) -> Officer:
    with factory() as session:
        row = session.scalar(select(Officer).where(Officer.username == username))
        session.expunge(row)
        return row


def expected_rows(factory, who: Officer, now):
    """(task row, whistle, deadline, state) for every listed task of `who`, computed in Python."""
    out = []
    with factory() as session:
        rows = session.execute(select(InboxTask, Whistle, Instance.status)
                               .join(Instance, Instance.id == InboxTask.instance_id)
                               .outerjoin(Whistle, Whistle.instance_id == InboxTask.instance_id)
                               .where(InboxTask.role == who.role, InboxTask.unit_id == who.unit_id)).all()
        for task, whistle, status in rows:
            if status not in ("running", "waiting"):
                continue
            due = task.due_at
            if due is None and whistle is not None:
                if task.task == "report_for_duty":
                    due = whistle.report_due
                elif task.task in ("complete_matter", "cooperate"):
                    due = whistle.complete_due
                elif task.task == "consultation_reply":
                    dues = [c.due_at for c in session.scalars(select(Consultation).where(
                        Consultation.whistle_id == whistle.id, Consultation.closed_at.is_(None)))]
                    due = max(dues) if dues else None
            state = "none" if due is None else "overdue" if due < now else \
                "soon" if due - now <= timedelta(days=2) else "ok"
            session.expunge(task)
            out.append((task, whistle, due, state))
    return out


def test_community_inbox_counts_filters_and_pages(factory):
    for i in range(23):
        report(factory, title=f"事项{i:02d}", category="明灯" if i % 3 else "安全")
    report(factory, title="别的社区", community_id="hs-jfl-sq2", actor="wg-hs-jfl-sq2")
    who = officer(factory, "sq-hs-jfl-sq1")
    now = DEFAULT_NOW          # when the whistles were reported (never the wall clock)
    expected = expected_rows(factory, who, now)
    assert len(expected) == 23
    with factory() as session:
        first = workspace.inbox(session, who, per_page=10, now=now)
        assert (first.total, first.pages, first.page) == (23, 3, 1)
        assert first.counts["total"] == 23 and first.counts["by_task"] == {"triage": ("社区研判", 23)}
        newest = sorted(expected, key=lambda e: (e[0].created_at, e[0].id), reverse=True)
        seen = [it.id for p in (1, 2, 3) for it in workspace.inbox(session, who, per_page=10, page=p, now=now).items]
        assert sorted(seen) == sorted(e[0].id for e in expected)         # every task once over the pages
        assert [it.created_at for it in first.items] == [e[0].created_at for e in newest[:10]]
        last = workspace.inbox(session, who, per_page=10, page=99, now=now)
        assert last.page == 3 and len(last.items) == 3                    # a page past the end: the last one
        safety = workspace.inbox(session, who, category="安全", per_page=50, now=now)
        assert safety.total == sum(1 for e in expected if e[1].category == "安全") == 8
        assert {it.title for it in safety.items} == {e[1].title for e in expected if e[1].category == "安全"}
        assert safety.counts["total"] == 23                               # the counts are of all my tasks
        assert workspace.inbox(session, who, overdue=True, now=now).total == 0
        assert workspace.inbox(session, who, task="joint_meeting", now=now).total == 0
        assert workspace.inbox(session, who, mine=True, now=now).total == 0


def test_department_inbox_deadlines_come_from_the_register(factory):
    instances = [report(factory, title=f"报到{i}")[1] for i in range(3)]
    for iid in instances:
        advance(factory, iid, "report_for_duty")
    who = officer(factory, "bm-hs-cgj")
    with factory() as session:
        report_due = max(w.report_due for w in session.scalars(select(Whistle).where(Whistle.instance_id.in_(instances))))
    for now in (DEFAULT_NOW, report_due - timedelta(days=1), report_due + timedelta(hours=1)):
        expected = expected_rows(factory, who, now)
        assert sum(1 for e in expected if e[0].task == "report_for_duty") == 3
        with factory() as session:
            page = workspace.inbox(session, who, order="due", per_page=200, now=now)
            assert {it.id: (it.due_at, it.state) for it in page.items} == {e[0].id: (e[2], e[3]) for e in expected}
            dues = [it.due_at for it in page.items]
            known = [d for d in dues if d is not None]
            assert known == sorted(known) and dues[:len(known)] == known  # by deadline, none last
            for state in ("overdue", "soon"):
                assert page.counts[state] == sum(1 for e in expected if e[3] == state)
            late = workspace.inbox(session, who, overdue=True, per_page=200, now=now)
            assert {it.id for it in late.items} == {e[0].id for e in expected if e[3] == "overdue"}
    assert any(e[3] == "overdue" for e in expected)                      # the last instant is past the due dates


def test_consultation_reply_is_due_when_the_consultation_is(factory):
    _, iid, _ = report(factory, title="会商期限")
    tasks = advance(factory, iid, "consultation_reply")
    mine = next(t for t in tasks if t.task == "consultation_reply" and t.unit_id == "hs-zjj")
    who = officer(factory, "bm-hs-zjj")
    with factory() as session:
        due = session.scalar(select(Consultation.due_at).join(Whistle, Whistle.id == Consultation.whistle_id)
                             .where(Whistle.instance_id == iid))
        [item] = [it for it in workspace.inbox(session, who).items if it.id == mine.id]
        assert due is not None and item.due_at == due
        assert workspace.task_item(session, session.get(InboxTask, mine.id)).due_at == due


def test_one_page_reads_one_page_of_rows_in_the_same_queries(factory):
    """Paging happens in the database: however many tasks there are, a page takes the same
    statements and loads only its own rows."""
    who = officer(factory, "sq-hs-jfl-sq1")

    def read_one_page() -> tuple[int, int]:
        statements, loaded = [], []
        engine = factory.kw["bind"]
        on_statement = lambda *args: statements.append(args[2])  # noqa: E731
        on_load = lambda target, context: loaded.append(target.id)  # noqa: E731
        event.listen(engine, "before_cursor_execute", on_statement)
        event.listen(InboxTask, "load", on_load)
        try:
            with factory() as session:
                page = workspace.inbox(session, who, order="due", per_page=5)
                assert len(page.items) == 5
        finally:
            event.remove(engine, "before_cursor_execute", on_statement)
            event.remove(InboxTask, "load", on_load)
        return len(statements), len(loaded)

    for i in range(6):
        report(factory, title=f"少{i}")
    few = read_one_page()
    for i in range(30):
        report(factory, title=f"多{i}")
    assert read_one_page() == few
    assert few[0] <= 4 and few[1] == 5
