"""Languages: Simplified Chinese by default, English as the second locale.

Message ids are the Chinese texts (so Chinese needs no catalogue); `translations/en` holds the
English catalogue. `compile_catalogues` turns the .po files into .mo files at start-up (into a
cache folder keyed by the .po contents, so the source tree stays clean and nothing has to run
before `create_app`). Dates: 2026年11月27日 in Chinese, ISO in English; times in Asia/Shanghai.
"""
from __future__ import annotations

import hashlib
import tempfile
from datetime import date, datetime
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import request, session
from flask_babel import get_locale, gettext as _, lazy_gettext as _l

from governance.calendar import TZ, to_local

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE / "translations"
LANGUAGES = {"zh": "zh_Hans_CN", "en": "en"}
DEFAULT = "zh"


def compile_catalogues(source: Path = SOURCE_DIR) -> Path:
    """Compile every translations/<lang>/LC_MESSAGES/*.po into a cache folder; returns it."""
    pos = sorted(source.glob("*/LC_MESSAGES/*.po"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in pos)).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"whistle-translations-{digest}"
    for po in pos:
        mo = target / po.relative_to(source).with_suffix(".mo")
        if mo.exists():
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as fh:
            catalog = read_po(fh)
        # A private temporary name: several processes (test workers, server and worker) may start at once.
        with tempfile.NamedTemporaryFile("wb", dir=mo.parent, suffix=".tmp", delete=False) as fh:
            write_mo(fh, catalog)
        Path(fh.name).replace(mo)
    return target


def select_language() -> str:
    """?lang=xx (remembered in the session), else the session's choice, else Accept-Language."""
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        session["lang"] = wanted
        return wanted
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    best = request.accept_languages.best_match(["zh", "zh-CN", "zh-Hans", "en"], default=None)
    if best and best.startswith("en"):
        return "en"
    return DEFAULT


def locale_selector() -> str:
    return LANGUAGES[select_language()]


def is_english() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "en"


# -- formats ------------------------------------------------------------------------------------

def _as_local(value) -> datetime | date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value or " " in value \
                else date.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return to_local(value)
    return value


def fmt_date(value) -> str:
    value = _as_local(value)
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    if is_english():
        return day.isoformat()
    return f"{day.year}年{day.month}月{day.day}日"


def fmt_datetime(value) -> str:
    value = _as_local(value)
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return fmt_date(value)
    return f"{fmt_date(value)} {value:%H:%M}"


def fmt_rate(value) -> str:
    if value is None:
        return "—"
    return f"{float(value):.1f}%"


def days_left_text(due, now: datetime) -> str:
    """'已逾期 3 天' / '剩余 2 天' / '今天到期' with the deadline state, for the colour-blind too."""
    if due is None:
        return _("无期限")
    due_local, now_local = to_local(due), now.astimezone(TZ)
    days = (due_local.date() - now_local.date()).days
    if due_local < now_local:
        late = max(1, (now_local.date() - due_local.date()).days)
        return _("已逾期 %(n)d 天", n=late)
    if days == 0:
        return _("今天到期")
    return _("剩余 %(n)d 天", n=days)


# -- names shown for codes ------------------------------------------------------------------------

ROLE_NAMES = {
    "grid_worker": _l("网格员"), "resident": _l("居民"), "community": _l("社区党组织"),
    "street": _l("街道党工委（乡镇党委）"), "district_org": _l("区委组织部"), "city_org": _l("市委组织部"),
    "department": _l("市、区直部门和企事业单位党组织"), "policy_staff": _l("政策/流程管理员"),
    "admin": _l("系统管理员"),
}

ENGINE_ERRORS = {
    "task_not_ready": _l("该任务已由同事办理，或已不在等待办理中。请刷新收件箱。"),
    "instance_not_active": _l("该事项的流程已暂停、出错或已结束，暂时不能办理。"),
    "conflict": _l("该事项刚被他人修改，请重新打开后再试。"),
    "not_found": _l("找不到该记录。"),
    "forbidden": _l("该任务或事项不属于您的单位。"),
    "form_invalid": _l("表单有误，请按提示修改。"),
    "bad_request": _l("请求无效。"),
    "incident": _l("您提交的内容已保存，但系统处理后续步骤时出错，已记录为故障；管理员修复后将继续办理，无需重新提交。"),
}


def engine_error_message(exc) -> str:
    return str(ENGINE_ERRORS.get(getattr(exc, "code", ""), _l("操作失败，请重试。")))


FORMAT_NAMES = {"date": _l("日期（如 2026-11-27）"), "date-time": _l("日期时间"), "email": _l("电子邮箱"),
                "uri": _l("网址"), "time": _l("时间")}
TYPE_NAMES = {"integer": _l("整数"), "number": _l("数字"), "string": _l("文字"), "boolean": _l("是/否"),
              "array": _l("列表"), "object": _l("对象")}


def field_error_message(error) -> str:
    """A friendly sentence for an engine FieldError: the form rule's own text, else a general one."""
    if str(getattr(error, "kind", "")).startswith("x-") or getattr(error, "kind", "") == "readOnly":
        return problem_message(error)
    return _("填写的内容不符合要求。")


def problem_message(problem) -> str:
    """A friendly sentence for one validation problem (governance.forms.Problem)."""
    kind, params = problem.kind, problem.params or {}
    limit = params.get("limit")
    if kind == "required":
        return _("此项为必填项。")
    if kind in ("enum", "oneOf", "const", "anyOf"):
        return _("请从列表中选择一个有效的选项。")
    if kind == "minimum":
        return _("不能小于 %(limit)s。", limit=limit)
    if kind == "maximum":
        return _("不能大于 %(limit)s。", limit=limit)
    if kind == "exclusiveMinimum":
        return _("必须大于 %(limit)s。", limit=limit)
    if kind == "exclusiveMaximum":
        return _("必须小于 %(limit)s。", limit=limit)
    if kind == "minLength":
        return _("此项不能为空。") if limit == 1 else _("至少需要 %(limit)s 个字符。", limit=limit)
    if kind == "maxLength":
        return _("最多 %(limit)s 个字符。", limit=limit)
    if kind == "minItems":
        return _("至少选择 %(limit)s 项。", limit=limit)
    if kind == "maxItems":
        return _("最多选择 %(limit)s 项。", limit=limit)
    if kind == "uniqueItems":
        return _("选项不能重复。")
    if kind == "pattern":
        return _("格式不正确，请按说明填写。")
    if kind == "format":
        return _("请填写有效的%(what)s。", what=FORMAT_NAMES.get(params.get("format"), params.get("format")))
    if kind == "type":
        return _("请填写%(what)s。", what=TYPE_NAMES.get(params.get("type"), params.get("type")))
    if kind == "additionalProperties":
        return _("表单中没有这一项。")
    if kind == "multipleOf":
        return _("数值不符合要求。")
    if kind == "x-rules":   # a rule of the form says it in its own texts (governance.forms)
        return params.get("text_en" if is_english() else "text") or _("填写的内容不符合要求。")
    if kind == "readOnly":
        return _("此项由系统填写，不能修改。")
    if kind == "x-text":
        return _("此项不能只填空格。") if params.get("what") == "blank" else _("含有无法保存的字符，请删除后再提交。")
    return _("填写的内容不符合要求。")
