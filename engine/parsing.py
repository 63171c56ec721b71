"""Reading diagrams: a hardened XML parser, the SpiffWorkflow parser we run with, and the spec
cache (one parse per deployed version and process, reused by every instance of it)."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask

MAX_FILE_BYTES = 2 * 1024 * 1024
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


class EngineParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = dict(SpiffBpmnParser.OVERRIDE_PARSER_CLASSES)
    OVERRIDE_PARSER_CLASSES[full_tag("serviceTask")] = (
        SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("serviceTask")][0], MergingServiceTask)


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
