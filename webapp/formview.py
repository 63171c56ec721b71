"""A JSON Schema form as fields the template renders (labels, help, required marks, choices,
widgets), and the validation problems as translated messages per field."""
from __future__ import annotations

from dataclasses import dataclass, field

from governance import forms

from .i18n import is_english, problem_message

LONG_TEXT = 200   # a string allowed to be longer than this is a textarea


@dataclass
class Field:
    name: str
    label: str
    help: str | None
    widget: str            # text | textarea | select | radio | checkboxes | date | datetime | integer | number | checkbox | readonly
    required: bool
    required_when: list = field(default_factory=list)   # [(field, value title)]
    choices: list = field(default_factory=list)         # [{const, title}]
    value: object = None
    error: str | None = None
    attrs: dict = field(default_factory=dict)


def _widget(prop: dict, choices: list | None) -> str:
    kind = prop.get("type")
    if prop.get("readOnly"):
        return "readonly"
    if kind == "array":
        return "checkboxes" if choices and len(choices) <= 12 else "multiselect"
    if choices:
        return "radio" if len(choices) <= 4 else "select"
    if kind == "boolean":
        return "checkbox"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "number"
    fmt = prop.get("format")
    if fmt == "date":
        return "date"
    if fmt == "date-time":
        return "datetime"
    if (prop.get("maxLength") or 10_000) > LONG_TEXT:
        return "textarea"
    return "text"


def display_schema(schema: dict | None) -> dict | None:
    """The form with its labels, help and choice titles in the current language (the
    `x-title-en`/`x-description-en` texts in English, falling back to the Chinese ones)."""
    shown = forms.localized(schema, "en" if is_english() else None)
    if is_english() and shown:
        from .terms import term
        for prop in (shown.get("properties") or {}).values():   # the category list: names from the catalogue
            if isinstance(prop, dict) and prop.get("x-choices") == "categories":
                prop["oneOf"] = [{**c, "title": term(c.get("const"))} for c in prop.get("oneOf") or []]
    return shown


def build_fields(schema: dict, values: dict | None = None, errors: dict | None = None,
                 readonly_values: dict | None = None) -> list[Field]:
    values, errors, readonly_values = values or {}, errors or {}, readonly_values or {}
    schema = display_schema(schema)
    required = forms.required_fields(schema)
    conditional = forms.conditionally_required(schema)
    props = schema.get("properties") or {}
    out = []
    for name, prop in forms.ordered_fields(schema):
        choices = forms.choices(prop) or []
        when = []
        for key, const in conditional.get(name, []):
            titles = {c["const"]: c["title"] for c in forms.choices(props.get(key, {})) or []}
            when.append((props.get(key, {}).get("title") or key, titles.get(const, const)))
        attrs = {}
        for key in ("minimum", "maximum", "minLength", "maxLength", "pattern"):
            if key in prop:
                attrs[key] = prop[key]
        value = readonly_values.get(name) if prop.get("readOnly") else values.get(name, prop.get("default"))
        out.append(Field(name=name, label=prop.get("title") or name, help=prop.get("description"),
                         widget=_widget(prop, choices), required=name in required, required_when=when,
                         choices=choices, value=value, error=errors.get(name), attrs=attrs))
    return out


def error_map(problems) -> dict[str, str]:
    """{field: message}; problems of the whole form under ''."""
    return {p.field: problem_message(p) for p in problems}


def choice_title(schema: dict, name: str, value) -> str:
    prop = (display_schema(schema).get("properties") or {}).get(name) or {}
    for c in forms.choices(prop) or []:
        if c["const"] == value:
            return c["title"]
    return "" if value is None else str(value)
