"""Reading diagrams: a hardened XML parser, the SpiffWorkflow parser we run with, and the spec
cache (one parse per deployed version and process, reused by every instance of it)."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from copy import deepcopy
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.specs.defaults import CallActivity, ServiceTask

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_XML_DEPTH = 50      # elements inside elements; BPMN within the nesting limit needs about 20
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}


class UnsafeXML(ValueError):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def parse_xml(content: bytes) -> etree._ElementTree:
    """Parse untrusted XML: no DTD, no entities, no network, bounded size."""
    if len(content) > MAX_FILE_BYTES:
        raise UnsafeXML(f"file is larger than {MAX_FILE_BYTES // 1024} KiB")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_pis=True)
    try:
        tree = etree.ElementTree(etree.fromstring(content, parser))
    except etree.XMLSyntaxError as exc:
        raise UnsafeXML(f"not well-formed XML: {exc.msg}", getattr(exc, "lineno", None)) from None
    except ValueError as exc:  # e.g. unicode strings with an encoding declaration
        raise UnsafeXML(f"not readable XML: {exc}") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXML("DOCTYPE and entity declarations are not allowed", 1)
    depth = 0
    for event, element in etree.iterwalk(tree, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > MAX_XML_DEPTH:
            raise UnsafeXML(f"elements are nested more than {MAX_XML_DEPTH} deep", element.sourceline)
    return tree


class MergingServiceTask(ServiceTask):
    """A service task whose handler result (a dict) is merged into the task data, or stored under
    `resultVariable` when the diagram names one."""

    def __init__(self, wf_spec, bpmn_id, operation_name, operation_params, result_variable, **kwargs):
        self.merge_result = not result_variable
        super().__init__(wf_spec, bpmn_id, operation_name, operation_params, result_variable, **kwargs)

    def _execute(self, task):
        result = json.loads(task.workflow.script_engine.call_service(
            task, operation_name=self.operation_name, operation_params=self.evaluate_params(task)))
        if self.merge_result and isinstance(result, dict):
            task.data.update(result)
        else:
            task.data[self.result_variable] = result
        return True


def declared_io(spec) -> tuple[list[str], list[str]] | None:
    """(inputs, outputs) a process declares in its bpmn:ioSpecification, or None without one.
    A variable is named by the dataInput's/dataOutput's `name` (else its id: ids are unique in a
    file, so a variable that goes in and comes back has two ids and one name)."""
    io = getattr(spec, "io_specification", None)
    if io is None:
        return None
    return ([v.bpmn_name or v.bpmn_id for v in io.data_inputs],
            [v.bpmn_name or v.bpmn_id for v in io.data_outputs])


class DeclaredCallActivity(CallActivity):
    """A call activity that passes only what the called process declares: its ioSpecification's
    dataInputs go in (those the caller has), its dataOutputs come back (those it has set); the
    caller keeps the rest of its own data. An empty list passes nothing (SpiffWorkflow would copy
    everything). A called process without an ioSpecification (deployed before declarations were
    required) still gets and returns everything."""

    def copy_data(self, my_task, subworkflow):
        declared = declared_io(subworkflow.spec)
        if declared is None:
            return super().copy_data(my_task, subworkflow)
        start = subworkflow.get_next_task(subworkflow.task_tree, skip_subprocesses=True, spec_name="Start")
        start.set_data(**{k: deepcopy(my_task.data[k]) for k in declared[0] if k in my_task.data})

    def update_data(self, my_task, subworkflow):
        declared = declared_io(subworkflow.spec)
        if declared is None:
            return super().update_data(my_task, subworkflow)
        end = subworkflow.get_next_task(subworkflow.task_tree, skip_subprocesses=True, spec_name="End")
        data = end.data if end is not None else subworkflow.last_task.data
        my_task.data.update({k: deepcopy(data[k]) for k in declared[1] if k in data})


class EngineParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = dict(SpiffBpmnParser.OVERRIDE_PARSER_CLASSES)
    OVERRIDE_PARSER_CLASSES[full_tag("serviceTask")] = (
        SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("serviceTask")][0], MergingServiceTask)
    OVERRIDE_PARSER_CLASSES[full_tag("callActivity")] = (
        SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("callActivity")][0], DeclaredCallActivity)


def load_parser(files: dict[str, str]) -> EngineParser:
    """A parser holding already-vetted files (name -> text)."""
    parser = EngineParser()
    for name, text in files.items():
        tree = parse_xml(text.encode("utf-8"))
        if name.lower().endswith(".dmn"):
            parser.add_dmn_xml(tree.getroot(), filename=name)
        else:
            parser.add_bpmn_xml(tree.getroot(), filename=name)
    return parser


@dataclass(frozen=True)
class LoadedVersion:
    """What running an instance needs from its deployment, parsed once."""
    spec: object
    subprocess_specs: dict
    task_meta: dict
    forms: dict


class SpecCache:
    """LoadedVersion per (database, deployment id, process id), least recently used first out."""

    def __init__(self, size: int = 64):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session, deployment_id: int, process_id: str) -> LoadedVersion:
        key = (session.get_bind().url, deployment_id, process_id)  # ids are per database
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        from .models import Deployment
        deployment = session.get(Deployment, deployment_id)
        parser = load_parser({**deployment.dependencies, **deployment.files})
        value = LoadedVersion(parser.get_spec(process_id), parser.get_subprocess_specs(process_id),
                              deployment.task_meta, deployment.forms)
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self):
        with self._lock:
            self._items.clear()


spec_cache = SpecCache()
