"""Deploying diagrams: vet untrusted BPMN/DMN files, then store them as new process versions.

A refusal lists every problem found (file, element id, line, message) and stores nothing.
Deploying content identical to the newest deployment of the same processes creates nothing.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import jsonschema
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from . import registry
from .errors import DeployProblem, DeployRefused
from .models import Deployment, ProcessVersion
from .nesting import MAX_NESTING, too_deep
from .parsing import NS, EngineParser, UnsafeXML, parse_xml
from .sandbox import ExpressionError, check_expression, check_timer_expression, compared_values

MAX_FILES = 50
DMN_NAMESPACES = ("https://www.omg.org/spec/DMN/", "http://www.omg.org/spec/DMN/")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass
class CodedProblem(DeployProblem):
    """A problem the web layer can say in the reader's language: `code` names the sentence,
    `params` fill it (the English `message` stays for the command line and logs)."""
    code: str | None = None
    params: dict | None = None


@dataclass
class DeployResult:
    deployment: Deployment
    versions: list[ProcessVersion]
    created: bool


class _Checker:
    """Collects problems of one deployment set."""

    def __init__(self, forms_dir: Path | None, form_overrides: dict[str, dict] | None = None):
        self.problems: list[DeployProblem] = []
        self.forms_dir = forms_dir
        self.form_overrides = form_overrides or {}
        self.forms: dict[str, dict] = {}
        self.task_meta: dict[str, dict] = {}
        self.calls: dict[str, set[str]] = {}        # process id -> called process ids
        self.processes: dict[str, str] = {}         # process id -> file name (executable ones)
        self.decisions: set[str] = set()
        self.declaring: set[str] = set()            # processes with a bpmn:ioSpecification
        self.call_nodes: list[tuple[str, str, etree._Element]] = []   # (called process, file, node)
        self.called_decisions: list[tuple[str, str, etree._Element]] = []

    def add(self, message, element=None, file=None, node=None, line=None, code=None, **params):
        eid = element if element is not None else (node.get("id") if node is not None else None)
        line = line if line is not None else (node.sourceline if node is not None else None)
        if code:
            self.problems.append(CodedProblem(message=message, element=eid, file=file, line=line,
                                              code=code, params=params))
        else:
            self.problems.append(DeployProblem(message=message, element=eid, file=file, line=line))

    # -- expressions -------------------------------------------------------------------------
    def expression(self, text, node, file, owner, timer=None):
        """`timer`: the timer's kind (timeDate, timeDuration, timeCycle) for a timer's expression."""
        text = (text or "").strip()
        try:
            check_timer_expression(text, timer) if timer else check_expression(text)
        except ExpressionError as exc:
            self.add(str(exc), element=owner.get("id"), file=file, node=node, code=exc.code, **exc.params)

    # -- one BPMN file ----------------------------------------------------------------------
    def bpmn(self, tree, name):
        root = tree.getroot()
        if etree.QName(root).namespace != NS["bpmn"] or etree.QName(root).localname != "definitions":
            self.add("not a BPMN 2.0 document (root must be bpmn:definitions)", file=name, node=root)
            return
        VALIDATOR.preprocess(root)
        if not VALIDATOR.validator.validate(root):
            for err in list(VALIDATOR.validator.error_log)[:20]:
                self.add(f"BPMN schema: {err.message}", file=name, line=err.line)
            return
        processes = root.findall("bpmn:process", NS)
        if not processes:
            self.add("the file defines no process", file=name, node=root)
        executable = [p for p in processes if p.get("isExecutable") == "true"]
        for proc in processes:
            if proc not in executable and _flow_nodes(proc):
                self.add("process is not executable (isExecutable=\"true\" is required)", file=name, node=proc)
        for proc in executable:
            self.process(proc, name)

    def process(self, proc, file):
        pid = proc.get("id")
        if pid in self.processes:
            self.add(f"process id {pid!r} is defined twice", file=file, node=proc)
        self.processes[pid] = file
        lanes = {}
        for lane in proc.iter(f"{{{NS['bpmn']}}}lane"):
            for ref in lane.findall("bpmn:flowNodeRef", NS):
                lanes[(ref.text or "").strip()] = lane
        meta = self.task_meta.setdefault(pid, {})
        self.calls.setdefault(pid, set())
        self.io_specification(proc, file)
        for node in proc.iter():
            if not isinstance(node.tag, str):
                continue
            qn = etree.QName(node)
            if qn.namespace == NS["spiffworkflow"] and qn.localname in ("preScript", "postScript"):
                owner = node.getparent().getparent()
                self.add("pre/post scripts are not allowed", file=file, node=owner)
            if qn.namespace != NS["bpmn"]:
                continue
            tag = qn.localname
            if tag == "scriptTask":
                self.add("script tasks are not allowed: use a service task with a registered handler", file=file, node=node)
            elif tag in ("userTask", "manualTask"):
                meta[node.get("id")] = self.user_task(node, lanes.get(node.get("id")), file)
            elif tag == "serviceTask":
                self.service_task(node, file)
            elif tag == "callActivity":
                called = node.get("calledElement")
                if not called:
                    self.add("call activity names no process (calledElement)", file=file, node=node)
                else:
                    self.calls[pid].add(called)
                    self.call_nodes.append((called, file, node))
            elif tag == "businessRuleTask":
                decision = node.findtext("bpmn:extensionElements/spiffworkflow:calledDecisionId", namespaces=NS)
                if not decision:
                    self.add("business rule task names no decision (spiffworkflow:calledDecisionId)", file=file, node=node)
                else:
                    self.called_decisions.append((decision.strip(), file, node))
            elif tag == "conditionExpression":
                self.expression(node.text, node, file, node.getparent())
            elif tag in ("timeDate", "timeDuration", "timeCycle"):
                self.expression(node.text, node, file, node.getparent().getparent(), timer=tag)
            elif tag in ("loopCardinality", "completionCondition"):
                self.expression(node.text, node, file, node.getparent().getparent())
            elif tag == "condition" and etree.QName(node.getparent()).localname == "conditionalEventDefinition":
                self.expression(node.text, node, file, node.getparent().getparent())
        self.gateways(proc, file, meta)

    # -- call activities pass only what the called process declares --------------------------------
    def io_specification(self, proc, file):
        io = proc.find("bpmn:ioSpecification", NS)
        if io is None:
            return
        self.declaring.add(proc.get("id"))
        for kind, refs in (("dataInput", "bpmn:inputSet/bpmn:dataInputRefs"),
                           ("dataOutput", "bpmn:outputSet/bpmn:dataOutputRefs")):
            listed = {(r.text or "").strip() for r in io.iterfind(refs, NS)}
            for item in io.iterfind(f"bpmn:{kind}", NS):
                variable = item.get("name") or item.get("id")
                if not variable.isidentifier():
                    self.add(f"{kind} {item.get('id')!r}: the variable name {variable!r} is not a data key",
                             file=file, node=item)
                elif item.get("id") not in listed:
                    set_name = "inputSet" if kind == "dataInput" else "outputSet"
                    self.add(f"{kind} {item.get('id')!r} is not listed in the {set_name}, so it would not be passed",
                             file=file, node=item)

    def undeclared_calls(self, declaring: set[str]):
        for called, file, node in self.call_nodes:
            if called in declaring:
                continue
            name = node.get("name") or node.get("id")
            self.add(f"call activity {name!r} calls process {called!r}, which declares no variables: give "
                     f"{called!r} a bpmn:ioSpecification with a dataInput for each data key it needs and a "
                     "dataOutput for each it returns (name = the data key); only those are passed",
                     file=file, node=node, code="call_undeclared", call=name, called=called)

    # -- exclusive gateways: a default flow, or conditions that take every value of the form ------
    def gateways(self, proc, file, meta):
        nodes = {n.get("id"): n for n in proc.iter() if isinstance(n.tag, str) and n.get("id")}
        outgoing, incoming = {}, {}
        for fl in proc.iter(f"{{{NS['bpmn']}}}sequenceFlow"):
            outgoing.setdefault(fl.get("sourceRef"), []).append(fl)
            incoming.setdefault(fl.get("targetRef"), []).append(fl.get("sourceRef"))
        for gw in proc.iter(f"{{{NS['bpmn']}}}exclusiveGateway"):
            flows = outgoing.get(gw.get("id"), [])
            conditions = [(fl, (fl.findtext("bpmn:conditionExpression", namespaces=NS) or "").strip())
                          for fl in flows if fl.find("bpmn:conditionExpression", NS) is not None]
            if not conditions or gw.get("default") in {fl.get("id") for fl in flows}:
                continue
            if len(conditions) < len(flows):
                continue  # a flow without condition that is not the default: the parser refuses it
            try:
                analysed = [compared_values(text) for _fl, text in conditions]
            except ExpressionError:
                continue  # refused already, naming the flow
            name = gw.get("name") or gw.get("id")
            keys = {a[0] for a in analysed if a is not None}
            if None in analysed or len(keys) != 1:
                self.add(f"exclusive gateway {name!r} has no default flow and its conditions cannot be checked "
                         "against a form (only key == 'value', key in (...) and 'or' of those over one data key are "
                         "understood): add a default flow", file=file, node=gw, code="gateway_unanalysable",
                         gateway=name)
                continue
            key = keys.pop()
            taken = frozenset().union(*(a[1] for a in analysed))
            sources = self._value_sources(gw.get("id"), key, nodes, incoming, meta)
            if not sources or any(values is None for _task, _form, values in sources):
                self.add(f"exclusive gateway {name!r} has no default flow and no form before it gives "
                         f"{key!r} a fixed list of values: add a default flow", file=file, node=gw,
                         code="gateway_open_key", gateway=name, key=key)
                continue
            for task, form, values in sources:
                missing = [v for v in values if v not in taken]
                if missing:
                    shown = ", ".join(repr(v) for v in missing)
                    self.add(f"exclusive gateway {name!r} has no default flow and no outgoing flow takes "
                             f"{key} = {shown} (form {form!r} of task {task!r}): add a flow for it or a default flow",
                             file=file, node=gw, code="gateway_uncovered", gateway=name, key=key,
                             values=missing, form=form, task=task)

    def _value_sources(self, gateway_id, key, nodes, incoming, meta) -> list[tuple[str, str, list | None]]:
        """The user tasks nearest before a gateway whose form has the field `key`:
        [(task id, form, its closed list of values or None when the field is free)]."""
        found, seen = [], set()
        todo = list(incoming.get(gateway_id, []))
        while todo:
            nid = todo.pop()
            if nid in seen or nid not in nodes:
                continue
            seen.add(nid)
            tag = etree.QName(nodes[nid]).localname
            if tag in ("userTask", "manualTask"):
                form = (meta.get(nid) or {}).get("form")
                schema = self.forms.get(form) if form else None
                if isinstance(schema, dict) and key in (schema.get("properties") or {}):
                    found.append((nid, form, _closed_values(schema, key)))
                    continue
            elif tag in ("startEvent", "boundaryEvent", "callActivity", "subProcess"):
                continue
            todo.extend(incoming.get(nid, []))
        return found

    def user_task(self, node, lane, file):
        props = _properties(node)
        form = props.get("formJsonSchemaFilename")
        if not form:
            self.add("user task has no form (property formJsonSchemaFilename)", file=file, node=node)
        else:
            self.form(form, node, file)
        role = props.get("role") or (lane.get("id") if lane is not None else None)
        roles = registry.known_roles()
        unit_key = props.get("unit")
        if not role:
            self.add("user task has no assignment: put it in a lane named after a role or give it a 'role' property",
                     file=file, node=node)
        elif _PLACEHOLDER.search(role):
            pattern = re.compile("^" + _PLACEHOLDER.sub(r"\\w+", re.escape(role).replace(r"\{", "{").replace(r"\}", "}")) + "$")
            if not any(pattern.match(r) for r in roles):
                self.add(f"role template {role!r} matches no known role", file=file, node=node)
        elif role not in roles:
            where = f"lane {role!r}" if not props.get("role") else f"role {role!r}"
            self.add(f"{where} is not a known role ({', '.join(sorted(roles)) or 'none registered'})", file=file, node=node)
        elif unit_key is None:
            unit_key = roles[role]
        return {"name": node.get("name") or node.get("id"), "form": form, "role": role,
                "unit_key": unit_key, "due_key": props.get("due")}

    def form(self, form, node, file):
        if form in self.forms:
            return
        if "/" in form or "\\" in form or form.startswith("."):
            self.add(f"form name {form!r} is not a plain file name", file=file, node=node)
            return
        if form in self.form_overrides:  # a form being edited (or stored in the database) stands in for the file
            self.closed_form(form, self.form_overrides[form], node, file)
            self.forms[form] = self.form_overrides[form]
            return
        path = (self.forms_dir / form) if self.forms_dir else None
        if path is None or not path.is_file():
            self.add(f"form {form!r} does not exist in forms/", file=file, node=node)
            return
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except (ValueError, jsonschema.SchemaError) as exc:
            self.add(f"form {form!r} is not a valid JSON Schema: {str(exc).splitlines()[0]}", file=file, node=node)
            return
        self.closed_form(form, schema, node, file)
        self.forms[form] = schema

    def closed_form(self, form, schema, node, file) -> bool:
        """Only declared fields may enter the instance data: a form must be an object schema that
        refuses every other key (`additionalProperties: false`)."""
        if isinstance(schema, dict) and schema.get("additionalProperties") is False \
                and isinstance(schema.get("properties", {}), dict):
            return True
        self.add(f"form {form!r} is not closed: it must say \"additionalProperties\": false (only the fields "
                 "it declares may enter the instance data)", file=file, node=node, code="form_open", form=form)
        return False

    def service_task(self, node, file):
        op = node.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
        if op is None:
            self.add("service task names no handler (spiffworkflow:serviceTaskOperator)", file=file, node=node)
            return
        name = op.get("id")
        if registry.get_handler(name) is None:
            self.add(f"unknown handler {name!r}; registered: {', '.join(registry.handler_names())}", file=file, node=node)
        for param in op.iterfind(".//spiffworkflow:parameter", NS):
            if "value" in param.attrib:
                self.expression(param.get("value"), param, file, node)

    # -- one DMN file -----------------------------------------------------------------------
    def dmn(self, tree, name):
        root = tree.getroot()
        ns = etree.QName(root).namespace or ""
        if not ns.startswith(DMN_NAMESPACES) or etree.QName(root).localname != "definitions":
            self.add("not a DMN document", file=name, node=root)
            return
        for decision in root.iter(f"{{{ns}}}decision"):
            self.decisions.add(decision.get("id"))
            for entry in decision.iter(f"{{{ns}}}inputEntry", f"{{{ns}}}outputEntry", f"{{{ns}}}inputExpression"):
                text = (entry.findtext(f"{{{ns}}}text") or "").strip()
                if not text or text == "-":
                    continue
                try:
                    check_expression(text)
                except ExpressionError:
                    try:
                        check_expression("v " + text)
                    except ExpressionError as exc:
                        self.add(str(exc), element=decision.get("id"), file=name, node=entry)


def _closed_values(schema: dict, key: str) -> list | None:
    """The values a form field may take when the form fixes them (enum, or oneOf/anyOf of consts)."""
    prop = (schema.get("properties") or {}).get(key)
    if isinstance(prop, dict) and isinstance(prop.get("$ref"), str) and prop["$ref"].startswith("#/$defs/"):
        prop = (schema.get("$defs") or {}).get(prop["$ref"][len("#/$defs/"):])
    if not isinstance(prop, dict):
        return None
    if isinstance(prop.get("enum"), list):
        return list(prop["enum"])
    if "const" in prop:
        return [prop["const"]]
    for word in ("oneOf", "anyOf"):
        choices = prop.get(word)
        if isinstance(choices, list) and choices and all(isinstance(c, dict) and "const" in c for c in choices):
            return [c["const"] for c in choices]
    return None


def _flow_nodes(proc) -> list:
    skip = {"laneSet", "extensionElements", "documentation", "sequenceFlow", "dataObject",
            "dataObjectReference", "dataStoreReference", "textAnnotation", "association", "ioSpecification"}
    return [c for c in proc if isinstance(c.tag, str) and etree.QName(c).localname not in skip]


def _properties(node) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in
            node.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}


def _find_cycle(calls: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(pid, path):
        state[pid] = 1
        for callee in sorted(calls.get(pid, ())):
            if state.get(callee) == 1:
                return path + [callee]
            if state.get(callee) is None and callee in calls:
                found = visit(callee, path + [callee])
                if found:
                    return found
        state[pid] = 2
        return None

    for pid in sorted(calls):
        if pid not in state:
            found = visit(pid, [pid])
            if found:
                return found
    return None


def _content_hash(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


def check(session: Session, files: dict[str, bytes], forms_dir: Path | None,
          form_overrides: dict[str, dict] | None = None) -> tuple[_Checker, dict[str, str], dict[str, str], EngineParser | None]:
    """Vet a deployment set; returns the checker (problems, meta), texts, dependency texts, parser.
    `form_overrides` (form file name -> schema) stand in for files of forms_dir: a form editor checks
    an edited form against the diagrams before saving it."""
    checker = _Checker(forms_dir, form_overrides)
    texts: dict[str, str] = {}
    if not files:
        checker.add("nothing to deploy")
    if len(files) > MAX_FILES:
        checker.add(f"too many files (at most {MAX_FILES})")
        return checker, texts, {}, None
    trees = {}
    for name, content in sorted(files.items()):
        lower = name.lower()
        if not lower.endswith((".bpmn", ".dmn", ".xml")):
            checker.add("only .bpmn and .dmn files can be deployed", file=name)
            continue
        try:
            tree = parse_xml(content)
            texts[name] = content.decode("utf-8") if isinstance(content, bytes) else content
        except UnsafeXML as exc:
            checker.add(str(exc), file=name, line=exc.line)
            continue
        except UnicodeDecodeError:
            checker.add("file is not UTF-8 encoded", file=name)
            continue
        trees[name] = tree
        if lower.endswith(".dmn") or (etree.QName(tree.getroot()).namespace or "").startswith(DMN_NAMESPACES):
            checker.dmn(tree, name)
        else:
            checker.bpmn(tree, name)
    if not checker.problems and not checker.processes:
        checker.add("no executable process in this deployment (a decision table is deployed with the "
                    "processes that use it)", file=next(iter(sorted(files)), None))
    if checker.problems:
        return checker, texts, {}, None

    # called processes and decisions that live in earlier deployments
    dependencies: dict[str, str] = {}
    missing = {c for callees in checker.calls.values() for c in callees} - set(checker.processes)
    for called in sorted(missing):
        dep = _latest_version(session, called)
        if dep is None:
            node_file = [(pid, f) for pid, f in checker.processes.items() if called in checker.calls.get(pid, ())]
            checker.add(f"called process {called!r} is neither in this deployment nor deployed",
                        element=called, file=node_file[0][1] if node_file else None)
            continue
        dependencies.update(dep.deployment.dependencies)
        dependencies.update(dep.deployment.files)
        for pid, callees in _calls_of(dep.deployment).items():
            checker.calls.setdefault(pid, set()).update(callees)
        for pid, meta in dep.deployment.task_meta.items():
            checker.task_meta.setdefault(pid, meta)
        checker.forms = {**dep.deployment.forms, **checker.forms}
    for decision, file, node in checker.called_decisions:
        if decision not in checker.decisions and not any(f.lower().endswith(".dmn") for f in dependencies):
            checker.add(f"decision {decision!r} is not in this deployment", file=file, node=node)
    checker.undeclared_calls(checker.declaring | _declaring_processes(dependencies))
    cycle = _find_cycle(checker.calls)
    if cycle:
        checker.add("call activities call each other in a cycle: " + " → ".join(cycle), element=cycle[0],
                    file=checker.processes.get(cycle[0]))
    else:
        for deep in too_deep({n: t.getroot() for n, t in trees.items()}, dependencies, set(checker.processes),
                             checker.calls):
            checker.add(deep.message, file=deep.file, node=deep.node, code="nesting_too_deep",
                        process=deep.process_id, limit=MAX_NESTING, chain=deep.chain)
    if checker.problems:
        return checker, texts, dependencies, None

    parser = EngineParser()
    try:
        for name, text in {**dependencies, **texts}.items():
            root = parse_xml(text.encode("utf-8")).getroot()
            if name.lower().endswith(".dmn") or (etree.QName(root).namespace or "").startswith(DMN_NAMESPACES):
                parser.add_dmn_xml(root, filename=name)
            else:
                parser.add_bpmn_xml(root, filename=name)
        for pid in checker.processes:
            parser.get_spec(pid)
            parser.get_subprocess_specs(pid)
    except ValidationException as exc:
        checker.add(str(exc).splitlines()[0], element=getattr(exc, "id", None) or None,
                    file=getattr(exc, "file_name", None) or None,
                    line=_int_or_none(getattr(exc, "line_number", None)))
    except (SpiffWorkflowException, KeyError, ValueError, TypeError, AttributeError) as exc:
        checker.add(f"cannot be executed: {exc.__class__.__name__}: {exc}")
    return checker, texts, dependencies, parser


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _latest_version(session: Session, process_id: str) -> ProcessVersion | None:
    return session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                           .order_by(ProcessVersion.version.desc()).limit(1)).first()


def _declaring_processes(texts: dict[str, str]) -> set[str]:
    """Ids of the processes in these files that have a bpmn:ioSpecification."""
    found = set()
    for name, text in texts.items():
        if name.lower().endswith(".dmn"):
            continue
        root = parse_xml(text.encode("utf-8")).getroot()
        found.update(p.get("id") for p in root.iterfind("bpmn:process", NS)
                     if p.find("bpmn:ioSpecification", NS) is not None)
    return found


def _calls_of(deployment: Deployment) -> dict[str, set[str]]:
    calls: dict[str, set[str]] = {}
    for name, text in {**deployment.dependencies, **deployment.files}.items():
        root = parse_xml(text.encode("utf-8")).getroot()
        for proc in root.iterfind("bpmn:process", NS):
            calls.setdefault(proc.get("id"), set()).update(
                c.get("calledElement") for c in proc.iter(f"{{{NS['bpmn']}}}callActivity") if c.get("calledElement"))
    return calls


def deploy(session: Session, files: dict[str, bytes], *, forms_dir: Path | None = None,
           actor: str | None = None, note: str | None = None,
           form_overrides: dict[str, dict] | None = None, once: bool = False) -> DeployResult:
    """Vet and store a deployment set (file name -> content). Raises DeployRefused.

    With `once`, content that was deployed before creates nothing even when newer deployments
    followed it (`whistle init` redeploying processes/ must not undo what policy staff deployed
    through the web since).

    Does not commit: the caller owns the transaction."""
    checker, texts, dependencies, _parser = check(session, files, forms_dir, form_overrides)
    if checker.problems:
        raise DeployRefused(checker.problems)
    # forms belong to the version too: a changed form alone makes a new version
    digest = _content_hash({**texts, **{f"forms/{k}": json.dumps(v, sort_keys=True) for k, v in checker.forms.items()}})
    latest = [_latest_version(session, pid) for pid in checker.processes]
    if latest and all(v is not None and v.deployment.content_hash == digest for v in latest):
        return DeployResult(latest[0].deployment, latest, created=False)
    if once and latest and all(v is not None for v in latest):
        # the set as its folders give it (forms/ files, not the overrides) was deployed before
        plain = {k: _form_file(forms_dir, k, v) for k, v in checker.forms.items()}
        for seen in {digest, _content_hash({**texts, **{f"forms/{k}": json.dumps(v, sort_keys=True)
                                                        for k, v in plain.items()}})}:
            earlier = session.scalars(select(Deployment).where(Deployment.content_hash == seen).limit(1)).first()
            if earlier is not None:
                return DeployResult(earlier, latest, created=False)
    deployment = Deployment(content_hash=digest, files=texts, dependencies=dependencies,
                            forms=checker.forms, task_meta=checker.task_meta, deployed_by=actor, note=note)
    session.add(deployment)
    versions = []
    with session.no_autoflush:
        for pid, file in checker.processes.items():
            current = session.scalar(select(func.max(ProcessVersion.version))
                                     .where(ProcessVersion.process_id == pid)) or 0
            name = parse_xml(texts[file].encode()).getroot().find(f"bpmn:process[@id='{pid}']", NS).get("name")
            versions.append(ProcessVersion(deployment=deployment, process_id=pid, version=current + 1, name=name))
    session.add_all(versions)
    session.flush()
    return DeployResult(deployment, versions, created=True)


def _form_file(forms_dir: Path | None, name: str, default: dict) -> dict:
    """Form `name` as its file in forms_dir says (else `default`)."""
    try:
        return json.loads((forms_dir / name).read_text(encoding="utf-8")) if forms_dir else default
    except (OSError, ValueError):
        return default


def read_folder(path: Path) -> dict[str, bytes]:
    """The .bpmn/.dmn files under a folder, named by their path relative to it."""
    return {str(p.relative_to(path)): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in (".bpmn", ".dmn")}
