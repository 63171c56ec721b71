"""Forms: directory choices, typed values from posted strings, structured validation errors.

Importing this module registers `resolve_form` with the engine (`engine.runtime.set_form_resolver`),
so a form is shown and validated against the same choices: every `x-directory` field (and array
item) gets a `oneOf` of the active units of that kind (`[{const: id, title: name}]`).
No Flask here: the web layer turns the structured errors into the reader's language.

Besides JSON Schema, a form states the checks its handlers make as declarative `x-rules` (a list
on the form; each rule names the `field` that carries its error and says it in `description` /
`x-description-en`, which the task page shows as a hint under that field):

- `{"rule": "sum-at-most", "fields": [a, b, c], "limit": n}`: a + b + c never exceed field n;
- `{"rule": "not-future", "field": f}`: a date (or date-time) that records the past is not
  after today (the engine clock, Asia/Shanghai days);
- `{"rule": "after", "field": f, "than": key, "within": "P1Y"}`: f is later than `key` (another
  field, or else the task's data, e.g. the current `complete_due`), and not later than `within`
  after it (optional);
- `{"rule": "not-before", "field": f, "than": key}`: f's day is not before `key`'s day;
- `{"rule": "among", "field": f, "than": key}`: f (each item of a list) is one of the list `key`.

A rule may carry `"when": {field: value}` (it applies only then). A rule whose values are
missing or of the wrong type is left to `required`/`type`. Every form also refuses text that
cannot be stored (NUL and other control characters, unpaired surrogates), text that is
blank (spaces only) and values for read-only fields (the system fills those in). `problems` reports all of them per field; importing this module registers
`check` with the engine, so no path around the web form skips them.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import jsonschema

from engine import clock, runtime
from engine.errors import FieldError

from .directory import category_choices, units
from .models import DEPARTMENT_KINDS

# x-directory value -> unit kinds offered
DIRECTORY_KINDS: dict[str, tuple[str, ...]] = {
    "department": DEPARTMENT_KINDS,
    "community": ("community",),
    "street": ("street",),
    "district": ("district",),
    "unit": ("city", "district", "street", "community", *DEPARTMENT_KINDS),
}


def directory_choices(session, kind: str) -> list[dict]:
    kinds = DIRECTORY_KINDS.get(kind, (kind,))
    out = []
    for k in kinds:
        out.extend({"const": u.id, "title": u.name} for u in units(session, k))
    return sorted(out, key=lambda c: c["const"])


def resolve_form(schema: dict, session) -> dict:
    """Fill every `x-directory` reference with the directory's units (in place; returns it)."""
    cache: dict[str, list[dict]] = {}

    def walk(node):
        if isinstance(node, dict):
            kind = node.get("x-directory")
            if isinstance(kind, str) and "oneOf" not in node and "enum" not in node:
                if kind not in cache:
                    cache[kind] = directory_choices(session, kind) if session is not None else []
                choices = cache[kind]
                # an empty oneOf would refuse every value; leave the field open when the directory is empty
                if choices:
                    node["oneOf"] = [dict(c) for c in choices]
            if node.get("x-choices") == "categories" and "oneOf" not in node and "enum" not in node:
                node["oneOf"] = category_choices()      # the one category list (governance.directory)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        return node

    return walk(schema)


runtime.set_form_resolver(resolve_form)


# -- the shape of a form, for rendering -------------------------------------------------------

def ordered_fields(schema: dict) -> list[tuple[str, dict]]:
    """(name, property schema) in `x-order`, then the remaining properties in file order."""
    props = schema.get("properties") or {}
    order = [k for k in schema.get("x-order") or [] if k in props]
    order += [k for k in props if k not in order]
    return [(k, props[k]) for k in order]


def required_fields(schema: dict) -> set[str]:
    return set(schema.get("required") or [])


def conditionally_required(schema: dict) -> dict[str, list[tuple[str, object]]]:
    """field -> [(decision field, value)] for `allOf: [{if: {properties: {f: {const}}}, then: {required}}]`."""
    out: dict[str, list[tuple[str, object]]] = {}
    for rule in schema.get("allOf") or []:
        cond = (rule.get("if") or {}).get("properties") or {}
        then = (rule.get("then") or {}).get("required") or []
        for key, spec in cond.items():
            if isinstance(spec, dict) and "const" in spec:
                for name in then:
                    out.setdefault(name, []).append((key, spec["const"]))
    return out


def choices(prop: dict) -> list[dict] | None:
    """[{const, title}] of a field (or of its array items), from oneOf or enum."""
    target = prop.get("items") if prop.get("type") == "array" else prop
    if not isinstance(target, dict):
        return None
    if isinstance(target.get("oneOf"), list) and all(isinstance(o, dict) and "const" in o for o in target["oneOf"]):
        return [{"const": o["const"], "title": o.get("title") or str(o["const"])} for o in target["oneOf"]]
    if isinstance(target.get("enum"), list):
        return [{"const": v, "title": str(v)} for v in target["enum"]]
    return None


# -- texts in the reader's language -------------------------------------------------------------

# the English texts a form carries beside its Chinese ones (JSON Schema allows x- keywords)
LOCALIZED_KEYS = {"en": {"title": "x-title-en", "description": "x-description-en"}}


def localized(schema: dict | None, lang: str | None) -> dict | None:
    """A copy of `schema` whose `title`/`description` (of the form, every property and every
    oneOf choice) are the texts of language `lang` (`x-title-en`, `x-description-en`), where the
    form has them; otherwise the Chinese texts stay. Chinese (or no language) returns `schema`."""
    keys = LOCALIZED_KEYS.get(lang or "")
    if schema is None or not keys:
        return schema

    def walk(node):
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            for key, source in keys.items():
                text = node.get(source)
                if isinstance(text, str) and text.strip():
                    out[key] = text
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


def editable(prop: dict) -> bool:
    return not prop.get("readOnly")


# -- posted strings -> JSON values -------------------------------------------------------------

_INT = re.compile(r"^[+-]?\d+$")


def _convert(value: str, prop: dict):
    """One posted string as the JSON type of `prop`; a value that does not convert is returned
    unchanged, so validation reports the type error."""
    kind = prop.get("type")
    text = value.strip()
    if kind == "integer":
        if _INT.match(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else text
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return text
        if number != number or number in (float("inf"), float("-inf")):
            return text
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("true", "on", "1", "yes", "是"):
            return True
        if lowered in ("false", "off", "0", "no", "否"):
            return False
        return text
    if kind == "string" and prop.get("format") == "date-time" and len(text) == 16 and "T" in text:
        return text + ":00+08:00"    # an <input type=datetime-local> value is local time
    if kind == "string" and prop.get("format") in ("date-time",) and len(text) == 19 and "T" in text:
        return text + "+08:00"
    return text


def coerce_posted(schema: dict, getlist) -> dict:
    """The data of a posted HTML form as the schema's JSON types.

    `getlist(name)` returns the posted strings of a field (e.g. `request.form.getlist`). Empty
    values are left out (so `required` reports them); read-only fields and unknown names are
    ignored; an unchecked boolean is False.
    """
    data: dict = {}
    for name, prop in ordered_fields(schema):
        if not editable(prop):
            continue
        values = [v for v in getlist(name) if isinstance(v, str)]
        kind = prop.get("type")
        if kind == "array":
            items = prop.get("items") or {}
            present = [v for v in values if v.strip()]
            if present or getlist(f"{name}__present"):
                data[name] = [_convert(v, items) for v in present]
            continue
        if kind == "boolean":
            data[name] = any(_convert(v, prop) is True for v in values) if values else False
            continue
        text = next((v for v in values if v.strip()), None)
        if text is not None:
            data[name] = _convert(text, prop)
    return data


# -- validation with the validator kind kept -----------------------------------------------------

@dataclass
class Problem:
    field: str           # the top-level field ('' for the whole form)
    kind: str            # jsonschema validator: required, oneOf, enum, minimum, pattern, format, ...
    params: dict = field(default_factory=dict)
    message: str = ""    # jsonschema's English message


_REQUIRED = re.compile(r"'([^']+)' is a required property")
_ADDITIONAL = re.compile(r"\('([^']+)'")


def _field_of(error) -> str:
    if error.absolute_path:
        return str(error.absolute_path[0])
    if error.validator == "required":
        match = _REQUIRED.match(error.message)
        return match.group(1) if match else ""
    if error.validator == "additionalProperties":
        match = _ADDITIONAL.search(error.message)
        return match.group(1) if match else ""
    return ""


def _params(error) -> dict:
    value = error.validator_value
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
                           "maxLength", "minItems", "maxItems", "multipleOf"):
        return {"limit": value}
    if error.validator == "format":
        return {"format": value}
    if error.validator == "type":
        return {"type": value if isinstance(value, str) else "/".join(value)}
    if error.validator == "pattern":
        return {"pattern": value}
    return {}


def _leaves(error):
    """The most specific errors: `allOf`/`if-then` wrap the real ones in `context`."""
    if error.validator in ("allOf", "anyOf") and error.context:
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


def problems(schema: dict | None, data, context: dict | None = None) -> list[Problem]:
    """Every problem of `data` against `schema` and its `x-rules` (with the task's data
    `context` for rules that compare with it), at most one per field (the first found)."""
    if schema is None:
        return []
    if not isinstance(data, dict):
        return [Problem("", "type", {"type": "object"}, "form data must be an object")]
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema, format_checker=jsonschema.FormatChecker())
    seen: dict[str, Problem] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.validator)):
        for leaf in _leaves(error):
            name = _field_of(leaf)
            if name not in seen:
                seen[name] = Problem(name, str(leaf.validator), _params(leaf), leaf.message)
    for problem in rule_problems(schema, data, context):
        seen.setdefault(problem.field, problem)
    order = [k for k, _ in ordered_fields(schema)]
    return sorted(seen.values(), key=lambda p: order.index(p.field) if p.field in order else len(order))


# -- rules beyond JSON Schema (`x-rules`) and storable text -------------------------------------

RULES = "x-rules"
# NUL and the other C0 controls except tab, newline and carriage return; DEL; unpaired surrogates
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_PERIOD = re.compile(r"^P(?:(?P<years>\d{1,2})Y)?(?:(?P<months>\d{1,3})M)?(?:(?P<days>\d{1,4})D)?$")


def rules(schema: dict | None) -> list[dict]:
    """The form's `x-rules` that are well formed (a dict naming a known `rule` and a `field`)."""
    out = []
    for rule in (schema or {}).get(RULES) or []:
        if isinstance(rule, dict) and rule.get("rule") in _CHECKS and isinstance(rule.get("field"), str):
            out.append(rule)
    return out


def rule_hints(schema: dict | None) -> dict[str, list[str]]:
    """{field: [the rules' descriptions]}: what the task page shows under each field."""
    hints: dict[str, list[str]] = {}
    for rule in rules(schema):
        text = rule.get("description")
        if isinstance(text, str) and text.strip():
            hints.setdefault(rule["field"], []).append(text)
    return hints


def context_keys(schema: dict | None) -> set[str]:
    """The task data keys the rules compare with (a `than` that is no field of the form)."""
    props = (schema or {}).get("properties") or {}
    return {r["than"] for r in rules(schema) if isinstance(r.get("than"), str) and r["than"] not in props}


def task_rule_context(session, task) -> dict:
    """The values of the task's data (an InboxTask row) that the form's rules compare with."""
    from engine.models import Instance
    instance = session.get(Instance, task.instance_id)
    schema = runtime.form_schema(session, instance, task.form)
    keys = context_keys(schema)
    if not keys:
        return {}
    data = runtime.task_data(session, instance, task.id)
    return {k: data[k] for k in keys if k in data}


def narrow_to_rules(schema: dict | None, context: dict) -> dict | None:
    """The form with each field that an `among` rule limits to a list of the task's data offering
    only those choices (a copy; the form as deployed is unchanged)."""
    limits = {r["field"]: context[r["than"]] for r in rules(schema)
              if r["rule"] == "among" and isinstance(context.get(r.get("than")), list)}
    if not limits:
        return schema
    import copy
    schema = copy.deepcopy(schema)
    for name, allowed in limits.items():
        prop = (schema.get("properties") or {}).get(name)
        target = prop.get("items") if isinstance(prop, dict) and prop.get("type") == "array" else prop
        if isinstance(target, dict) and isinstance(target.get("oneOf"), list):
            target["oneOf"] = [o for o in target["oneOf"] if isinstance(o, dict) and o.get("const") in allowed]
    return schema


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _text_problem(name: str, value) -> Problem | None:
    for text in _strings(value):
        if _UNSTORABLE.search(text):
            return Problem(name, "x-text", {"what": "unstorable"}, "contains characters that cannot be stored")
        if text and not text.strip():
            return Problem(name, "x-text", {"what": "blank"}, "must not be blank")
    return None


def _instant(value) -> datetime | None:
    """A date or date-time string as an aware instant (a date: the end of that day, as the
    handlers read it), or None when it is no such value."""
    from .calendar import parse_datetime
    if not isinstance(value, str):
        return None
    try:
        found = parse_datetime(value)
        found.astimezone(clock.now().tzinfo)   # out of range once moved to UTC?
        return found
    except (ValueError, TypeError, OverflowError):
        return None


def _day(value) -> date | None:
    from .calendar import to_local
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    found = _instant(value)
    return to_local(found).date() if found is not None else None


def _later_by(instant: datetime, period: str) -> datetime | None:
    from .calendar import add_months
    match = _PERIOD.match(period or "")
    if not match or not any(match.groupdict().values()):
        return None
    try:
        months = int(match["years"] or 0) * 12 + int(match["months"] or 0)
        return add_months(instant, months) + timedelta(days=int(match["days"] or 0))
    except (ValueError, OverflowError):
        return datetime.max.replace(tzinfo=instant.tzinfo)


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sum_at_most(rule, value, data, context) -> bool:
    counts = [_count(data.get(k)) for k in rule.get("fields") or []]
    limit = _count(data.get(rule.get("limit")))
    if limit is None or any(c is None for c in counts):
        return True
    return sum(counts) <= limit


def _not_future(rule, value, data, context) -> bool:
    now = clock.now()
    if isinstance(value, str) and len(value.strip()) == 10:
        from .calendar import to_local
        day = _day(value)
        return day is None or day <= to_local(now).date()
    found = _instant(value)
    return found is None or found <= now


def _reference(rule, data, context):
    key = rule.get("than")
    if not isinstance(key, str):
        return None
    return data[key] if key in data else (context or {}).get(key)


def _after(rule, value, data, context) -> bool:
    mine, other = _instant(value), _instant(_reference(rule, data, context))
    if mine is None or other is None:
        return True
    if mine <= other:
        return False
    limit = _later_by(other, rule["within"]) if isinstance(rule.get("within"), str) else None
    return limit is None or mine <= limit


def _not_before(rule, value, data, context) -> bool:
    mine, other = _day(value), _day(_reference(rule, data, context))
    return mine is None or other is None or mine >= other


def _among(rule, value, data, context) -> bool:
    allowed = _reference(rule, data, context)
    if not isinstance(allowed, list):
        return True
    return all(v in allowed for v in (value if isinstance(value, list) else [value]))


_CHECKS = {"sum-at-most": _sum_at_most, "not-future": _not_future, "after": _after, "not-before": _not_before,
           "among": _among}


def _applies(rule: dict, data: dict) -> bool:
    when = rule.get("when")
    return not isinstance(when, dict) or all(data.get(k) == v for k, v in when.items())


def rule_problems(schema: dict | None, data, context: dict | None = None) -> list[Problem]:
    """The problems of `data` that plain JSON Schema cannot see: unstorable or blank text, and
    each broken `x-rules` rule (kind 'x-rules', params: the rule and its texts)."""
    if schema is None or not isinstance(data, dict):
        return []
    found: dict[str, Problem] = {}
    props = schema.get("properties") or {}
    for name, value in data.items():
        if not isinstance(props.get(name), dict):   # only declared fields enter the data, closed form or not
            found[name] = Problem(name, "additionalProperties", {}, "is not a field of this form")
            continue
        if props[name].get("readOnly"):
            found[name] = Problem(name, "readOnly", {}, "is filled in by the system")
            continue
        problem = _text_problem(name, value)
        if problem is not None:
            found[name] = problem
    for rule in rules(schema):
        name = rule["field"]
        if name in found or not _applies(rule, data):
            continue
        value = data.get(name)
        if rule["rule"] != "sum-at-most" and value is None:
            continue
        if not _CHECKS[rule["rule"]](rule, value, data, context):
            text = rule.get("description") or rule["rule"]
            found[name] = Problem(name, RULES, {"rule": rule["rule"], "text": text,
                                                "text_en": rule.get("x-description-en") or text},
                                  rule.get("x-description-en") or text)
    return list(found.values())


def check(schema: dict | None, data, context: dict | None = None) -> list[FieldError]:
    """`rule_problems` as the engine's field errors (registered as its form checker)."""
    return [FieldError(p.field, p.message, kind=p.kind, params=p.params) for p in rule_problems(schema, data, context)]


runtime.set_form_checker(check)


def schema_json(schema: dict) -> str:
    return json.dumps(schema, ensure_ascii=False, sort_keys=True)
