"""Instance state as compact bytes: SpiffWorkflow's serialisation without the spec (the spec is
stored once per deployed version and cached), JSON compressed with zlib."""
from __future__ import annotations

import json
import zlib

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from uuid import UUID


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Leaves `spec` and `subprocess_specs` out; they are passed back in when restoring."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = SpeclessWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_serializer = _make_serializer()


def dumps(workflow: BpmnWorkflow) -> bytes:
    registry = _serializer.registry
    registry._encoder_mode = True  # let the JSON encoder convert values lazily (as serialize_json does)
    try:
        dct = _serializer.to_dict(workflow)
        dct[_serializer.VERSION_KEY] = _serializer.VERSION
        text = json.dumps(dct, separators=(",", ":"), cls=_serializer._encoder_cls)
    finally:
        registry._encoder_mode = False
    return zlib.compress(text.encode(), 1)


def loads(blob: bytes, spec, subprocess_specs, script_engine=None) -> BpmnWorkflow:
    dct = json.loads(zlib.decompress(blob))
    _serializer.migrate(dct)
    workflow = _serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    if script_engine is not None:
        workflow.script_engine = script_engine
    return workflow
