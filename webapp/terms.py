"""The procedure's own terms in the reader's language: names of diagram elements (tasks,
processes, events), register stages and whistle categories.

These names are data (the BPMN files, governance.register.STAGES, governance.directory.CATEGORIES)
and Chinese; the English catalogue translates them with the Chinese name as msgid, like every other text. A name without a translation (say one a policy
officer has just edited in the modeler) is shown as it is.
"""
from __future__ import annotations

from flask_babel import get_translations, lazy_gettext as _l

from .i18n import is_english

# Mirrors the names in processes/*.bpmn (process names, user task names and the intermediate
# catch events shown as waiting on the admin instance page), so that `pybabel extract/update`
# keeps their catalogue entries. tests/test_terms_en.py checks every one is translated.
NAMES = (
    # whistle.bpmn
    _l("社区吹哨、部门报到"), _l("社区研判"), _l("社区党建联席会议研究"), _l("社区就地解决"), _l("街道协调解决"),
    _l("街道审核"), _l("区委相关会议研究"), _l("满意度测评"), _l("部门报到评价"),
    _l("等待季度联席会议"), _l("等待共性问题办结"), _l("移出共性问题"),
    # dispatch.bpmn
    _l("派单"), _l("拟定责任部门"), _l("答复征求意见"), _l("确认派单"),
    # handling.bpmn
    _l("部门报到办理"), _l("部门报到"), _l("共同协商"), _l("配合办理"), _l("办结反馈"), _l("社区同意延期"),
    _l("同级组织部审批延期"), _l("形成长效机制"),
    # joint_matter.bpmn
    _l("共性问题统筹解决"),
    # annual_assessment.bpmn
    _l("年度考核评价"), _l("街道年度考核评价建议"), _l("形成年度考核评价建议"), _l("组织部审核年度考核评价建议"),
    _l("审核年度考核评价建议"), _l("城区本级工作考核"), _l("考核城区本级工作"),
)

# Mirrors governance.register.STAGES and governance.directory.CATEGORIES (and "其他" of the forms).
STAGE_AND_CATEGORY_NAMES = (
    _l("社区研判"), _l("社区就地解决"), _l("街道协调"), _l("待联席会议研究"), _l("社区党建联席会议"), _l("街道审核"),
    _l("并入共性问题统筹"), _l("派单"), _l("征求部门意见"), _l("区委相关会议研究"), _l("部门办理"), _l("部门已报到"),
    _l("延期办理"), _l("形成长效机制"), _l("满意度测评"), _l("一哨一考核"), _l("重新办理"), _l("已办结"),
    _l("安全"), _l("明灯"), _l("助残"), _l("文化"), _l("需求"), _l("市容环境"), _l("交通出行"), _l("水电气"),
    _l("道路设施"), _l("教育"), _l("卫生健康"), _l("社会保障"), _l("市场秩序"), _l("生态环境"), _l("规划建设"),
    _l("通信"), _l("治安"), _l("其他"),
)

# Mirrors governance.directory.KIND_NAMES.
UNIT_KIND_NAMES = (_l("市"), _l("区"), _l("街道/乡镇"), _l("社区"), _l("部门"), _l("企事业单位"))


def term(name, fallback: str = "") -> str:
    """The diagram name `name` in the reader's language; `fallback` (e.g. the task id) when empty."""
    if not name:
        return fallback or ""
    if not is_english():
        return name
    return get_translations().gettext(name)


def localized_figures(figures: dict) -> dict:
    """The dashboard's figures with the names of months and categories in the reader's language
    (charts and tables show the same rows); other names are the directory's and stay as they are."""
    if not is_english():
        return figures
    out = dict(figures)
    out["by_month"] = [{**row, "name": row["id"]} for row in figures.get("by_month", [])]
    out["by_category"] = [{**row, "name": term(row["name"])} for row in figures.get("by_category", [])]
    return out
