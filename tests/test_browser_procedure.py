"""The demo procedure walked in a real Chromium from report to evaluation, every task reached the
way officers reach it: log in as an officer of the task's unit, find the task in the inbox, open
it, fill the form, submit. After every step the story driver's orphan check runs (every ready task
visible to officers of exactly one unit of its role and listed in such an officer's inbox).

1. A whistle with a lead and a cooperating department (R8 every department reports, R13 joint
   consultation), from the grid worker's report to the community's evaluations.
2. A joint matter of three communities of one district (R14), opened by the district's org
   department on /joint, dispatched and handled once, then surveyed and evaluated by every
   community.
"""
import re

import pytest
from sqlalchemy import select

from engine.models import InboxTask, Instance
from governance.joint_assessment_models import JointMatter
from governance.models import Officer, Whistle
from tests.browserkit import browser, live_site, log_in, page, require_browser, shot  # noqa: F401
from tests.procedure_kit import World
from tests.webkit import DEFAULT_NOW, STANDARD

pytestmark = pytest.mark.browser

require_browser()

from playwright.sync_api import expect  # noqa: E402  (after the skip check)

EVALUATION = {"grade": "good", "timeliness": "good", "plan": "excellent", "result": "good", "attitude": "excellent",
              "opinion": "报到及时，整改到位。"}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_site(tmp_path_factory.mktemp("procedure")) as site:
        yield site


# -- the officers' path in the browser ----------------------------------------------------------------

def officer_of(factory, role: str, unit_id: str) -> str:
    with factory() as session:
        username = session.scalars(select(Officer.username).where(Officer.role == role, Officer.unit_id == unit_id,
                                                                   Officer.active.is_(True))).first()
    assert username, f"no officer of role {role} in unit {unit_id}"
    return username


def as_officer(pg, server, username: str) -> None:
    pg.context.clear_cookies()
    log_in(pg, server, username)


def fill(pg, data: dict) -> None:
    """Fill the task form as an officer would: radio buttons, check boxes, selects, text fields."""
    form = pg.get_by_test_id("task-form")
    for key, value in data.items():
        radios = form.locator(f'input[type=radio][name="{key}"]')
        if radios.count():
            form.locator(f'input[type=radio][name="{key}"][value="{value}"]').check()
            continue
        boxes = form.locator(f'input[type=checkbox][name="{key}"]')
        if boxes.count():
            wanted = {str(v) for v in value} if isinstance(value, list) else ({"true"} if value else set())
            for i in range(boxes.count()):
                box = boxes.nth(i)
                box.check() if box.get_attribute("value") in wanted else box.uncheck()
            continue
        select_ = form.locator(f'select[name="{key}"]')
        if select_.count():
            select_.select_option([str(v) for v in value] if isinstance(value, list) else str(value))
            continue
        form.locator(f'[name="{key}"]').fill(str(value))


def do_task(pg, server, factory, task: InboxTask, data: dict) -> str:
    """The task's officer finds it in the inbox, opens it, fills and submits the form → the flash."""
    username = officer_of(factory, task.role, task.unit_id)
    as_officer(pg, server, username)
    link = pg.locator(f'tr[data-task="{task.task}"] a[href$="/tasks/{task.id}"]')
    expect(link).to_have_count(1)                                  # in the officer's inbox
    link.click()
    fill(pg, data)
    pg.get_by_test_id("submit-task").click()
    done = pg.locator(".alert-success")
    expect(done).to_be_visible()
    return done.inner_text()


def data_for(factory, task: InboxTask, overrides: dict) -> dict:
    if task.task == "evaluate_department":
        return dict(EVALUATION)
    return {**STANDARD, **overrides}[task.task]


def walk(pg, server, factory, instance_ids, overrides: dict, *, stop_at=(), max_steps: int = 80) -> list[str]:
    """Complete every ready task of `instance_ids()` through the browser until none is left but
    tasks named in `stop_at`; returns the tasks done in order."""
    world, done = World(factory, "sqlite"), []
    for _ in range(max_steps):
        world.check_reachable(DEFAULT_NOW)
        with factory() as session:
            tasks = list(session.scalars(select(InboxTask).where(InboxTask.instance_id.in_(instance_ids()),
                                                                 InboxTask.task.not_in(stop_at))
                                         .order_by(InboxTask.created_at, InboxTask.id)))
        if not tasks:
            return done
        task = tasks[0]
        message = do_task(pg, server, factory, task, data_for(factory, task, overrides))
        assert task.name in message or task.task in message, message
        done.append(task.task)
    raise AssertionError(f"still tasks after {max_steps} steps: {done}")


def report_in_browser(pg, server, grid_worker: str, title: str, category: str) -> str:
    as_officer(pg, server, grid_worker)
    pg.get_by_role("link", name="上报问题").first.click()
    pg.get_by_label("标题").fill(title)
    pg.get_by_label("类别").select_option(category)
    pg.get_by_label("问题描述").fill(f"{title}，居民多次反映。")
    pg.get_by_label("地点").fill("示例路 8 号")
    pg.get_by_test_id("submit-report").click()
    return pg.get_by_test_id("whistle-no").inner_text()


def whistle_row(factory, whistle_no: str) -> Whistle:
    with factory() as session:
        return session.scalar(select(Whistle).where(Whistle.whistle_no == whistle_no))


# -- the stories ---------------------------------------------------------------------------------------

def test_a_whistle_with_a_lead_and_a_cooperating_department_walked_from_report_to_evaluation(live, page):
    server, factory = live
    number = report_in_browser(page, server, "wg-hs-jfl-sq2", "小区门口道路破损", "道路设施")
    w = whistle_row(factory, number)
    done = walk(page, server, factory, lambda: [w.instance_id], {})
    shot(page, "procedure-done")
    # R2 → R4 → R5/R7 → R8 (both departments) → R13 → R12 → R16, each by its own officer
    assert done[:3] == ["triage", "street_coordinate", "street_review"]
    assert done.count("report_for_duty") == 2 and done.count("consultation_reply") == 2
    assert done.index("joint_consultation") < done.index("cooperate") < done.index("complete_matter")
    assert done[-3:] == ["satisfaction_survey", "evaluate_department", "evaluate_department"]
    row = whistle_row(factory, number)
    assert row.stage == "closed" and row.outcome == "completed"
    page.goto(f"{server.url}/whistles/{row.id}")
    expect(page.get_by_text("报到及时，整改到位。").first).to_be_visible()
    with factory() as session:
        assert session.get(Instance, row.instance_id).status == "completed"



def test_a_joint_matter_of_three_communities_at_district_level_walked_from_reports_to_evaluations(live, page):
    server, factory = live
    communities = {"wg-hs-jfl-sq3": "九华社区", "wg-hs-hdl-sq1": "湖东社区", "wg-hs-js-sq2": "林里社区"}
    numbers = [report_in_browser(page, server, wg, f"{name}公交站点设置不合理", "交通出行")
               for wg, name in communities.items()]
    whistles = [whistle_row(factory, n) for n in numbers]
    assert len({w.street_id for w in whistles}) == 3 and {w.district_id for w in whistles} == {"hs"}
    # each community and its street take the whistle to the street's review (R2, R4)
    walk(page, server, factory, lambda: [w.instance_id for w in whistles], {}, stop_at=("street_review",))
    # R14: the district's org department finds them on /joint and opens one joint matter
    as_officer(page, server, "zzb-hs")
    page.goto(f"{server.url}/joint")
    for w in whistles:
        page.locator(f'input[name="whistle_ids"][value="{w.id}"]').check()
    page.locator("#j-title").fill("多个社区公交站点设置不合理")
    page.locator("#j-lead").select_option("hs-cgj")
    page.locator("#j-coop").select_option(["hs-zjj"])
    page.get_by_test_id("open-joint").click()
    expect(page.locator(".alert-success")).to_contain_text("并入 3 条事项")
    shot(page, "joint-opened")
    with factory() as session:
        joint = session.scalar(select(JointMatter).order_by(JointMatter.id.desc()))
        assert joint.level == "district" and joint.org_unit_id == "hs"
    done = walk(page, server, factory, lambda: [joint.instance_id, *(w.instance_id for w in whistles)], {})
    # dispatched and handled once; each department reports at every community (R8, R14); every
    # community surveys and evaluates both departments (R12, R16)
    assert done.count("propose") == 1 and done.count("confirm_dispatch") == 1
    assert done.count("report_for_duty") == 2 * 3 and done.count("joint_consultation") == 1
    assert done.count("complete_matter") == 1
    assert done.count("satisfaction_survey") == 3 and done.count("evaluate_department") == 2 * 3
    for n in numbers:
        row = whistle_row(factory, n)
        assert row.stage == "closed" and row.outcome == "completed", (n, row.stage, row.outcome)
