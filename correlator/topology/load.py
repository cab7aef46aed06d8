"""Reading and validating topology files (YAML or JSON) into a ``Topology``.

Every problem is reported at once, each naming the node and the reason, so one
run of ``correlator topology validate`` shows all that needs fixing.
"""

import gc
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import yaml

from correlator.errors import TopologyError
from correlator.topology.model import Kind, Node, Topology
from correlator.topology.selectors import Selector

SUPPORTED_VERSION = 1
NODE_KEYS = frozenset(
    {"id", "kind", "name", "description", "owner", "criticality", "revenue_per_hour",
     "depends_on", "match", "members", "min_healthy"}
)  # fmt: skip
_ID = re.compile(r"[A-Za-z0-9_.:-]+")
_KINDS_BY_NAME = {kind.value: kind for kind in Kind}
_KINDS = ", ".join(kind.value for kind in Kind)


@dataclass(slots=True)
class _Problems:
    path: str
    found: list[tuple[str | None, str]] = field(default_factory=list)

    def add(self, node: str | None, reason: str) -> None:
        self.found.append((node, reason))

    def raise_any(self) -> None:
        if self.found:
            raise TopologyError(self.path, self.found)


def load_topology(path: str | Path) -> Topology:
    """Load and validate a topology file; raises ``TopologyError`` listing every problem."""
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise TopologyError(
            str(path), [(None, f"cannot read the file: {error.strerror}")]
        ) from None
    return parse_topology(content, str(path))


def parse_topology(content: bytes, path: str) -> Topology:
    # Building a large immutable graph allocates millions of objects and frees none:
    # the cyclic collector would rescan them again and again for nothing (~30% of
    # load time at 100,000 nodes).
    gc.disable()
    try:
        return _parse_topology(content, path)
    finally:
        gc.enable()


def _parse_topology(content: bytes, path: str) -> Topology:
    document = _decode(content, path)
    problems = _Problems(path)
    raw_nodes = _top_level(document, problems)
    nodes: dict[str, Node] = {}
    ids: set[str] = set()  # broken nodes' too: a reference to one is not to an unknown node
    for position, raw in enumerate(raw_nodes):
        node = _node(raw, position, problems)
        node_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(node_id, str):
            continue
        if node_id in ids:  # told even when either node is broken otherwise
            problems.add(node_id, "duplicate id: another node already has it")
            continue
        ids.add(node_id)
        if node is not None:
            nodes[node_id] = node
    _check_references(nodes, ids, problems)
    problems.raise_any()
    assert isinstance(document, Mapping)
    version = f"{document['name']}@{hashlib.sha256(content).hexdigest()[:12]}"
    return Topology(str(document["name"]), version, nodes)


def _decode(content: bytes, path: str) -> object:
    if path.endswith(".json"):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError as error:
            reason = f"JSON syntax error at line {error.lineno}, column {error.colno}: {error.msg}"
            raise TopologyError(path, [(None, reason)]) from None
    try:
        return yaml.load(content, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = f"YAML syntax error{where}: {error.problem or error.context}"
        at_tab = mark is not None and _char_at(content, mark.line, mark.column) == "\t"
        if at_tab and "tab" not in reason:
            reason += " (a tab: YAML indents with spaces only)"
        raise TopologyError(path, [(None, reason)]) from None
    except yaml.YAMLError as error:
        raise TopologyError(path, [(None, f"YAML error: {error}")]) from None


def _char_at(content: bytes, line: int, column: int) -> str:
    lines = content.decode(errors="replace").splitlines()
    text = lines[line] if line < len(lines) else ""
    return text[column] if column < len(text) else ""


def _top_level(document: object, problems: _Problems) -> list[object]:
    if not isinstance(document, Mapping):
        problems.add(None, "expected a mapping with 'version', 'name' and 'nodes' at the top")
        return []
    if document.get("version") != SUPPORTED_VERSION:
        problems.add(
            None, f"'version' must be {SUPPORTED_VERSION}, got {document.get('version')!r}"
        )
    if not isinstance(document.get("name"), str) or not document["name"]:
        problems.add(None, "'name' must be a non-empty string")
    nodes = document.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        problems.add(None, "'nodes' must be a non-empty list")
        return []
    return nodes


def _node(raw: object, position: int, problems: _Problems) -> Node | None:
    if not isinstance(raw, dict):
        problems.add(None, f"nodes[{position}]: expected a mapping, got {type(raw).__name__}")
        return None
    node_id = raw.get("id")
    if not isinstance(node_id, str) or not _ID.fullmatch(node_id):
        problems.add(
            None, f"nodes[{position}]: 'id' must be a string of [A-Za-z0-9_.:-], got {node_id!r}"
        )
        return None
    unknown = sorted(str(key) for key in set(raw) - NODE_KEYS)
    if unknown:
        problems.add(
            node_id,
            f"unknown key(s) {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(sorted(NODE_KEYS))}",
        )
    kind_text = raw.get("kind")
    kind = _KINDS_BY_NAME.get(kind_text) if isinstance(kind_text, str) else None
    if kind is None:
        problems.add(node_id, f"kind {kind_text!r} is not one of: {_KINDS}")
        return None
    # Built even when a field is wrong (that field left at its default), so that its
    # id and references are checked too: every problem is reported in one run.
    return Node(
        id=node_id,
        kind=kind,
        name=_text(raw, "name", node_id, problems) or node_id,
        description=_text(raw, "description", node_id, problems),
        owner=_text(raw, "owner", node_id, problems),
        depends_on=_ids(raw, "depends_on", node_id, problems),
        members=_members(raw, kind, node_id, problems),
        min_healthy=_min_healthy(raw, kind, node_id, problems),
        criticality=_criticality(raw, kind, node_id, problems),
        revenue_per_hour=_revenue(raw, kind, node_id, problems),
        selectors=_selectors(raw.get("match"), node_id, problems),
    )


def _text(raw: Mapping[str, object], key: str, node_id: str, problems: _Problems) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        problems.add(node_id, f"'{key}' must be a string, got {type(value).__name__}")
        return ""
    return value


def _ids(raw: Mapping[str, object], key: str, node_id: str, problems: _Problems) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.add(node_id, f"'{key}' must be a list of node ids")
        return ()
    return tuple(dict.fromkeys(value))


def _members(
    raw: Mapping[str, object], kind: Kind, node_id: str, problems: _Problems
) -> tuple[str, ...]:
    if kind is not Kind.GROUP:
        if "members" in raw or "min_healthy" in raw:
            problems.add(node_id, "'members' and 'min_healthy' belong on nodes of kind group")
        return ()
    members = _ids(raw, "members", node_id, problems)
    if not members and isinstance(raw.get("members", []), list):  # else _ids said why
        problems.add(node_id, "a group needs a non-empty 'members' list")
    return members


def _min_healthy(raw: Mapping[str, object], kind: Kind, node_id: str, problems: _Problems) -> int:
    value = raw.get("min_healthy", 1)
    if kind is not Kind.GROUP:
        return 1
    members = raw.get("members")
    count = len(set(map(str, members))) if isinstance(members, list) else 0
    if type(value) is not int or value < 1:
        problems.add(node_id, f"'min_healthy' must be a whole number >= 1, got {value!r}")
    elif count and value > count:
        problems.add(node_id, f"'min_healthy' is {value} but the group has only {count} member(s)")
    return value if isinstance(value, int) else 1


def _criticality(
    raw: Mapping[str, object], kind: Kind, node_id: str, problems: _Problems
) -> int | None:
    value = raw.get("criticality")
    if kind is not Kind.BUSINESS_SERVICE:
        if value is not None:
            problems.add(node_id, "'criticality' belongs on nodes of kind business_service")
        return None
    if type(value) is not int or value not in (1, 2, 3, 4):
        problems.add(node_id, f"'criticality' must be 1 (highest) .. 4, got {value!r}")
        return None
    return value


def _revenue(
    raw: Mapping[str, object], kind: Kind, node_id: str, problems: _Problems
) -> float | None:
    value = raw.get("revenue_per_hour")
    if value is None:
        return None
    if kind is not Kind.BUSINESS_SERVICE:
        problems.add(node_id, "'revenue_per_hour' belongs on nodes of kind business_service")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        problems.add(node_id, f"'revenue_per_hour' must be a number >= 0, got {value!r}")
        return None
    return float(value)


def _selectors(value: object, node_id: str, problems: _Problems) -> tuple[Selector, ...]:
    if value is None:
        return ()
    maps = value if isinstance(value, list) else [value]
    selectors = []
    for position, pairs in enumerate(maps):
        where = f"match[{position}]" if isinstance(value, list) else "match"
        if not isinstance(pairs, dict) or not pairs:
            problems.add(node_id, f"{where} must be a non-empty map of label name to string value")
            continue
        bad = [k for k, v in pairs.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            problems.add(
                node_id,
                f"{where} must map label names to strings; not a string: "
                f"{', '.join(map(str, bad))} (quote numbers and booleans)",
            )
            continue
        try:
            selectors.append(Selector.parse(pairs))
        except re.error as error:
            problems.add(node_id, f"{where}: bad regular expression: {error}")
    return tuple(selectors)


def _check_references(nodes: Mapping[str, Node], declared: set[str], problems: _Problems) -> None:
    for node in nodes.values():
        for dependency in node.depends_on:
            if dependency not in declared:
                problems.add(node.id, f"depends on unknown node {dependency!r}")
        for member in node.members:
            if member not in declared:
                problems.add(node.id, f"group member {member!r} is not a node")
