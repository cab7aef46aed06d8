"""``correlator topology show``: a topology's shape, or one node's dependency tree."""

from collections import Counter

from correlator.topology.model import Kind, Node, Topology


def overview(topology: Topology) -> str:
    kinds = Counter(node.kind.value for node in topology.nodes.values())
    lines = [
        f"topology {topology.name}  version {topology.version}",
        f"{len(topology)} nodes, {topology.graph.number_of_edges()} dependencies",
        "nodes by kind:",
        *(f"  {kind:<17} {kinds[kind.value]}" for kind in Kind if kinds[kind.value]),
        "business services:",
    ]
    for service in sorted(topology.business_services(), key=lambda n: (n.criticality or 4, n.id)):
        revenue = f", {service.revenue_per_hour:,.0f}/h" if service.revenue_per_hour else ""
        lines.append(
            f"  {service.id:<24} {service.name} (criticality {service.criticality}{revenue})"
        )
    return "\n".join(lines)


def dependency_tree(topology: Topology, node_id: str) -> str:
    """The node, everything it needs down to the leaves, and the business services it can affect.

    Depth first with an explicit stack: real graphs can be deeper than Python's recursion.
    """
    lines: list[str] = []
    shown: set[str] = set()
    stack: list[tuple[str, str, str, frozenset[str]]] = [(node_id, "", "", frozenset())]
    while stack:
        current, lead, indent, on_path = stack.pop()
        node = topology.nodes[current]
        label = f"{lead}{current} ({_detail(node)})"
        if current in on_path:
            lines.append(f"{label}  <- cycle")
            continue
        if current in shown and node.needs:
            lines.append(f"{label}  (expanded above)")
            continue
        lines.append(label)
        shown.add(current)
        children = []
        for position, need in enumerate(node.needs):
            last = position == len(node.needs) - 1
            branch, rest = ("└── ", "    ") if last else ("├── ", "│   ")
            children.append((need, indent + branch, indent + rest, on_path | {current}))
        stack.extend(reversed(children))
    services = [s for s in topology.business_services_of(node_id) if s != node_id]
    lines.append("can affect: " + (", ".join(services) if services else "no business service"))
    return "\n".join(lines)


def _detail(node: Node) -> str:
    if node.kind is Kind.GROUP:
        return f"{node.kind.value}, min_healthy {node.min_healthy} of {len(node.members)}"
    return node.kind.value
