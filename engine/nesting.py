"""How deep processes nest: embedded subprocesses inside each other and call activities calling
processes that call others. Deploy refuses a process that nests deeper than MAX_NESTING levels
(every subprocess or call activity entered is one level)."""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from .parsing import NS, parse_xml

MAX_NESTING = 8
_SUBPROCESSES = {"subProcess", "transaction", "adHocSubProcess"}


@dataclass(frozen=True)
class TooDeep:
    process_id: str
    file: str
    node: etree._Element      # the first subprocess or call activity on the deepest path
    depth: int                # capped at MAX_NESTING + 1: "deeper than the limit"
    path: tuple[str, ...]     # element ids down that path (as far as the limit + 1)

    @property
    def chain(self) -> str:
        return " → ".join(self.path) + (" → …" if self.depth > MAX_NESTING else "")

    @property
    def message(self) -> str:
        return (f"process {self.process_id!r} nests subprocesses and call activities more than {MAX_NESTING} "
                f"levels deep: {self.chain}")


def too_deep(roots: dict[str, etree._Element], dependencies: dict[str, str], checked: set[str],
             calls: dict[str, set[str]], limit: int = MAX_NESTING) -> list[TooDeep]:
    """The processes among `checked` (ids) that nest deeper than `limit`, leaving out those only
    called by another such process (the caller is named instead). `roots` are the deployment's parsed
    files (name -> root element), `dependencies` the texts of earlier deployments it calls into;
    `calls` says who calls whom."""
    roots = {**{n: parse_xml(t.encode("utf-8")).getroot() for n, t in dependencies.items()
                if not n.lower().endswith(".dmn")}, **roots}
    index = {}
    for name, root in roots.items():
        for proc in root.iterfind("bpmn:process", NS):
            index[proc.get("id")] = (name, proc)   # this deployment after what it depends on
    memo: dict[str, tuple[int, tuple]] = {}

    def deepest(pid: str, open_: frozenset) -> tuple[int, tuple]:
        """(depth capped at limit + 1, [(element, id) ...] down the deepest path)."""
        if pid in memo:
            return memo[pid]
        if pid not in index or pid in open_:
            return 0, ()
        best: tuple[int, tuple] = (0, ())
        todo = [(child, 0, ()) for child in index[pid][1]]
        while todo:
            node, level, path = todo.pop()
            if not isinstance(node.tag, str) or etree.QName(node).namespace != NS["bpmn"]:
                continue
            tag = etree.QName(node).localname
            if tag in _SUBPROCESSES:
                here = path + ((node, node.get("id")),)
                if level + 1 > best[0]:
                    best = (level + 1, here)
                if level + 1 <= limit:
                    todo.extend((child, level + 1, here) for child in node)
            elif tag == "callActivity" and node.get("calledElement"):
                below, below_path = deepest(node.get("calledElement"), open_ | {pid})
                depth = min(level + 1 + below, limit + 1)
                if depth > best[0]:
                    best = (depth, path + ((node, f"{node.get('id')} ({node.get('calledElement')})"),) + below_path)
        memo[pid] = (min(best[0], limit + 1), best[1][:limit + 1])
        return memo[pid]

    found = {pid: deepest(pid, frozenset()) for pid in sorted(checked) if pid in index}
    deep = {pid for pid, (depth, _path) in found.items() if depth > limit}
    called_by_deep = {callee for pid in deep for callee in calls.get(pid, ())}
    return [TooDeep(pid, index[pid][0], found[pid][1][0][0], found[pid][0],
                    (pid,) + tuple(eid for _node, eid in found[pid][1]))
            for pid in sorted(deep - called_by_deep)]
