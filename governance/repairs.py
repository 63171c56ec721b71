"""Repairing an incident raised by submitted form data (issue 9): the administrator hands the task
back to its officers with a reason. The engine part (engine.admin.hand_back) knows no whistles;
here the officers of the task's unit get a notice and the whistle's timeline says why."""
from __future__ import annotations

from sqlalchemy import select

from engine import admin
from engine.clock import now

from .models import Whistle
from .notices import notify
from .register import record_event


def hand_back_task(session, instance_id: int, *, reason: str, actor: str | None = None) -> dict:
    """engine.admin.hand_back, then a notice to the task's unit (with the reason) and an event on
    the whistle's timeline. Returns what hand_back returns."""
    result = admin.hand_back(session, instance_id, reason=reason, actor=actor)
    whistle = session.scalar(select(Whistle).where(Whistle.instance_id == instance_id))
    at = now()
    what = f"“{whistle.title}”（{whistle.whistle_no}）" if whistle is not None else f"流程实例 {instance_id}"
    if result["unit_id"]:
        notify(session, result["unit_id"], "handed_back", whistle_id=whistle.id if whistle else None, at=at,
               text=f"【退回重新填写】{what}的任务“{result['task']}”提交的内容未能办理，已退回请重新填写。原因：{reason.strip()}")
    if whistle is not None:
        record_event(session, whistle, "handed_back", actor=actor, at=at,
                     text=f"系统管理员将任务退回重新填写：{reason.strip()}")
    session.flush()
    return result
