"""Policy staff's view of deployed processes: every process with its versions, the BPMN text of a
version, what changed between two versions, and rollback (deploying an old version's content as
the newest version). Plain functions taking a session; the caller commits."""
from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .admin import OPEN, _reason
from .deploy import DeployResult, deploy
from .errors import EngineError, NotFound
from .models import Deployment, Instance, ProcessVersion
from .parsing import BPMN_NS, NS, parse_xml
from .runtime import audit, latest_version

# elements whose children with ids are elements of their own (compared separately)
_CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess", "laneSet", "lane", "childLaneSet"}
# children that only repeat what sequence flows say
_SKIP = {"incoming", "outgoing"}


def _version(session: Session, version_id: int) -> ProcessVersion:
    version = session.get(ProcessVersion, version_id)
    if version is None:
        raise NotFound(f"process version {version_id} does not exist")
    return version


# -- listing -------------------------------------------------------------------------------------

def list_processes(session: Session) -> list[dict]:
    """Every deployed process, newest version first in each, with instance counts per version:
    `instances` (all), `open` (not completed or cancelled) and `by_status` (open ones)."""
    # one scan of the (process_version_id, status) index, no instance row is read
    totals: Counter = Counter()
    open_counts: dict[int, dict] = {}
    for version_id, status, n in session.execute(
            select(Instance.process_version_id, Instance.status, func.count())
            .group_by(Instance.process_version_id, Instance.status)):
        totals[version_id] += n
        if status in OPEN:
            open_counts.setdefault(version_id, {})[status] = n
    processes: dict[str, dict] = {}
    rows = session.execute(select(ProcessVersion, Deployment.deployed_by, Deployment.deployed_at, Deployment.note)
                           .join(Deployment, Deployment.id == ProcessVersion.deployment_id)
                           .order_by(ProcessVersion.process_id, ProcessVersion.version.desc())).all()
    for version, deployed_by, deployed_at, note in rows:
        entry = processes.get(version.process_id)
        latest = entry is None
        if latest:
            entry = processes[version.process_id] = {
                "process_id": version.process_id, "name": version.name, "latest_version_id": version.id,
                "latest_version": version.version, "versions": []}
        by_status = open_counts.get(version.id, {})
        entry["versions"].append({
            "id": version.id, "version": version.version, "name": version.name,
            "deployment_id": version.deployment_id, "deployed_by": deployed_by, "deployed_at": deployed_at,
            "note": note, "latest": latest, "instances": totals.get(version.id, 0),
            "open": sum(by_status.values()), "by_status": by_status})
    return list(processes.values())


def _process_file(version: ProcessVersion) -> tuple[str, str, etree._Element]:
    for name, text in sorted(version.deployment.files.items()):
        if name.lower().endswith(".dmn"):
            continue
        root = parse_xml(text.encode("utf-8")).getroot()
        proc = root.find(f"bpmn:process[@id='{version.process_id}']", NS)
        if proc is not None:
            return name, text, proc
    raise NotFound(f"the files of version {version.id} do not define process {version.process_id!r}")


def version_file(session: Session, version_id: int) -> str:
    """The BPMN text that defines the version's process, as deployed."""
    return _process_file(_version(session, version_id))[1]


def version_files(session: Session, version_id: int) -> dict:
    """{"file": name of the process's file, "files": every own file, "dependencies": called files}."""
    version = _version(session, version_id)
    name, _text, _proc = _process_file(version)
    return {"file": name, "files": dict(version.deployment.files),
            "dependencies": dict(version.deployment.dependencies)}


# -- diff ----------------------------------------------------------------------------------------

def _local(node) -> str:
    return etree.QName(node).localname


def _is_element(node) -> bool:
    """A BPMN element compared on its own: has an id and sits directly in a container."""
    parent = node.getparent()
    return (isinstance(node.tag, str) and etree.QName(node).namespace == BPMN_NS and node.get("id") is not None
            and parent is not None and isinstance(parent.tag, str) and _local(parent) in _CONTAINERS)


def _facets(node, prefix: str, out: dict, top: bool, id_in_key: bool = False) -> None:
    bpmn = etree.QName(node).namespace == BPMN_NS
    for attr, value in sorted(node.attrib.items()):
        attr = etree.QName(attr).localname if attr.startswith("{") else attr
        # an element's id is its key; ids of nested BPMN parts (event definitions...) are modeler noise
        if attr == "id" and (top or bpmn or id_in_key):
            continue
        out[f"{prefix}@{attr}"] = value
    text = (node.text or "").strip()
    if text and not top:
        out[prefix or "text"] = text
    children = [c for c in node if isinstance(c.tag, str) and not _is_element(c) and _local(c) not in _SKIP]
    counts = Counter(_local(c) for c in children)
    lists: dict[str, list] = {}
    for index, child in enumerate(children):
        name = _local(child)
        key = f"{prefix}/{name}" if prefix else name
        if counts[name] > 1 and not child.attrib and not len(child):
            lists.setdefault(key, []).append((child.text or "").strip())   # e.g. lane flowNodeRefs
            continue
        if name == "property" and child.get("name"):
            key += f"[{child.get('name')}]"
            _facets_attrs_except(child, key, out, "name")
            continue
        id_in_key = False
        if etree.QName(child).namespace != BPMN_NS and child.get("id") and name != "serviceTaskOperator":
            key += f"[{child.get('id')}]"       # e.g. a handler parameter
            id_in_key = True
        elif counts[name] > 1:
            key += f"[{child.get('name') or index}]"
        _facets(child, key, out, False, id_in_key)
    for key, values in lists.items():
        out[key] = ", ".join(sorted(values))


def _facets_attrs_except(node, key, out, skip):
    for attr, value in sorted(node.attrib.items()):
        if attr != skip:
            out[f"{key}@{attr}"] = value
    text = (node.text or "").strip()
    if text:
        out[key] = text


def _elements(proc) -> dict[str, dict]:
    found = {proc.get("id"): proc}
    for node in proc.iter():
        if isinstance(node.tag, str) and _is_element(node):
            found[node.get("id")] = node
    result = {}
    for eid, node in found.items():
        facets: dict = {}
        _facets(node, "", facets, True)
        result[eid] = {"id": eid, "tag": _local(node), "name": node.get("name"), "facets": facets}
    return result


def diff_versions(session: Session, a_id: int, b_id: int) -> dict:
    """What changed from version `a_id` to version `b_id`, by BPMN element id:
    {"added": [{id, tag, name}], "removed": [...], "changed": [{id, tag, name, changes: [{field, before,
    after}]}]}. Compared: tag, name, attributes and the element's own content (conditions, timer
    expressions, form and role properties, handler and parameters, lane membership, ...)."""
    a, b = _version(session, a_id), _version(session, b_id)
    old, new = _elements(_process_file(a)[2]), _elements(_process_file(b)[2])

    def brief(e):
        return {"id": e["id"], "tag": e["tag"], "name": e["name"]}

    changed = []
    for eid in sorted(set(old) & set(new)):
        before, after = old[eid], new[eid]
        changes = []
        if before["tag"] != after["tag"]:
            changes.append({"field": "tag", "before": before["tag"], "after": after["tag"]})
        for key in sorted(set(before["facets"]) | set(after["facets"])):
            x, y = before["facets"].get(key), after["facets"].get(key)
            if x != y:
                changes.append({"field": key, "before": x, "after": y})
        if changes:
            changed.append({**brief(after), "changes": changes})
    return {"from": {"id": a.id, "process_id": a.process_id, "version": a.version},
            "to": {"id": b.id, "process_id": b.process_id, "version": b.version},
            "added": [brief(new[e]) for e in sorted(set(new) - set(old))],
            "removed": [brief(old[e]) for e in sorted(set(old) - set(new))],
            "changed": changed}


# -- rollback ------------------------------------------------------------------------------------

def rollback(session: Session, version_id: int, *, reason: str, actor: str | None = None) -> DeployResult:
    """Deploy the content of an old version (its files and its forms as deployed then) as the
    newest version. When that content already is the newest, nothing is created
    (`created` is False). Running instances stay where they are (see admin.migrate)."""
    reason = _reason(reason)
    old = _version(session, version_id)
    current = latest_version(session, old.process_id)
    if current.deployment.content_hash == old.deployment.content_hash:
        return DeployResult(current.deployment, [current], created=False)
    deployment = old.deployment
    files = {name: text.encode("utf-8") for name, text in deployment.files.items()}
    with tempfile.TemporaryDirectory(prefix="rollback-forms-") as tmp:
        for name, schema in (deployment.forms or {}).items():
            if "/" in name or "\\" in name or name.startswith("."):
                raise EngineError(f"stored form name {name!r} is not a plain file name")
            (Path(tmp) / name).write_text(json.dumps(schema), encoding="utf-8")
        result = deploy(session, files, forms_dir=Path(tmp), actor=actor,
                        note=f"rollback to version {old.version} of {old.process_id}: {reason}")
    if result.created:
        audit(session, None, "rollback", actor=actor, reason=reason,
              detail={"process_id": old.process_id, "from_version": current.version, "to_content_of": old.version,
                      "new_versions": {v.process_id: v.version for v in result.versions},
                      "deployment_id": result.deployment.id})
    return result
