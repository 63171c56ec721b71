"""The variables a process routes on: which data keys decide who does a task and where the
instance goes. Task data must never overwrite them unless a form's own field is meant to decide
them (the decision fields).

- assignment keys: a user task's `unit` property (a dotted path counts by its first key), the
  unit key of its lane's role when it has none, the placeholders of a role template
  (`{level}_org` → `level`), the input collections and items of multi-instance tasks and the
  collections their answers are gathered in;
- expression keys: the names read by gateway conditions, timer expressions, multi-instance
  cardinalities and completion conditions, and service-task parameters.

`routing_variables` gives the assignment keys, plus the expression keys that no form of the
process lets an officer fill in (a decision field such as `route` or `outcome` is the form's to
set; `level`, `year`, `street_id` are not).
"""
from __future__ import annotations

import ast
import re

from lxml import etree

from . import registry
from .parsing import NS, parse_xml

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_EXPRESSION_TAGS = ("conditionExpression", "timeDate", "timeDuration", "timeCycle", "loopCardinality",
                    "completionCondition")
_BUILTINS = {"len", "min", "max", "sum", "abs", "round", "int", "float", "str", "bool", "list", "dict", "set",
             "sorted", "any", "all", "True", "False", "None", "true", "false"}


def _names(text: str | None) -> set[str]:
    """The data keys an expression reads (nothing when it does not parse)."""
    text = (text or "").strip()
    if not text:
        return set()
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - _BUILTINS


def _properties(node) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in
            node.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}


class ProcessKeys:
    def __init__(self):
        self.assignment: set[str] = set()
        self.expression: set[str] = set()
        self.forms: set[str] = set()        # form file names of its user tasks


def process_keys(texts: dict[str, str]) -> dict[str, ProcessKeys]:
    """process id -> its assignment keys, expression keys and forms, for every BPMN file in `texts`."""
    roles = registry.known_roles()
    out: dict[str, ProcessKeys] = {}
    for name, text in texts.items():
        if name.lower().endswith(".dmn"):
            continue
        try:
            root = parse_xml(text.encode("utf-8") if isinstance(text, str) else text).getroot()
        except Exception:   # an unreadable file routes nothing (deploy refuses it anyway)
            continue
        for proc in root.iterfind("bpmn:process", NS):
            keys = out.setdefault(proc.get("id"), ProcessKeys())
            lanes = {}
            for lane in proc.iter(f"{{{NS['bpmn']}}}lane"):
                for ref in lane.findall("bpmn:flowNodeRef", NS):
                    lanes[(ref.text or "").strip()] = lane.get("id")
            for node in proc.iter():
                if not isinstance(node.tag, str):
                    continue
                qn = etree.QName(node)
                if qn.namespace == NS["spiffworkflow"] and qn.localname == "parameter":
                    keys.expression |= _names(node.get("value"))
                if qn.namespace != NS["bpmn"]:
                    continue
                tag = qn.localname
                if tag in ("userTask", "manualTask"):
                    props = _properties(node)
                    if props.get("formJsonSchemaFilename"):
                        keys.forms.add(props["formJsonSchemaFilename"])
                    role = props.get("role") or lanes.get(node.get("id")) or ""
                    keys.assignment |= set(_PLACEHOLDER.findall(role))
                    unit = props.get("unit") or (roles.get(role) if not _PLACEHOLDER.search(role) else None)
                    if unit:
                        keys.assignment.add(unit.split(".")[0])
                elif tag in ("loopDataInputRef", "loopDataOutputRef"):
                    if (node.text or "").strip():
                        keys.assignment.add(node.text.strip())
                elif tag == "inputDataItem":     # (an outputDataItem is what each instance's form answers)
                    if node.get("name") or node.get("id"):
                        keys.assignment.add(node.get("name") or node.get("id"))
                elif tag in _EXPRESSION_TAGS:
                    keys.expression |= _names(node.text)
    return out


def editable_fields(schema: dict | None) -> set[str]:
    props = (schema or {}).get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return set()
    return {k for k, v in props.items() if not (isinstance(v, dict) and v.get("readOnly"))}


def routing_variables(keys: ProcessKeys, forms: dict[str, dict]) -> set[str]:
    """The keys `keys`' process routes on that task data must not overwrite: its assignment keys,
    and its expression keys that none of its forms (`forms`: file name -> schema) lets an officer
    fill in."""
    provided = set().union(*(editable_fields(forms.get(f)) for f in keys.forms)) if keys.forms else set()
    return keys.assignment | (keys.expression - provided)
