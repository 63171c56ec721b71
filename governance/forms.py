"""Forms: directory choices, typed values from posted strings, structured validation errors.

Importing this module registers `resolve_form` with the engine (`engine.runtime.set_form_resolver`),
so a form is shown and validated against the same choices: every `x-directory` field (and array
item) gets a `oneOf` of the active units of that kind (`[{const: id, title: name}]`).
No Flask here: the web layer turns the structured errors into the reader's language.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import jsonschema

from engine import runtime

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


def problems(schema: dict | None, data) -> list[Problem]:
    """Every problem of `data` against `schema`, at most one per field (the first found)."""
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
    order = [k for k, _ in ordered_fields(schema)]
    return sorted(seen.values(), key=lambda p: order.index(p.field) if p.field in order else len(order))


def schema_json(schema: dict) -> str:
    return json.dumps(schema, ensure_ascii=False, sort_keys=True)
