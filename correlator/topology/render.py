"""``correlator topology show``: a topology's shape, or one node's dependency tree."""

from collections import Counter

from correlator.topology.model import Kind, Topology


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
    """The node, everything it needs down to the leaves, and the business services it can affect."""
    lines: list[str] = []
    _walk(topology, node_id, "", "", set(), set(), lines)
    services = [s for s in topology.business_services_of(node_id) if s != node_id]
    lines.append("can affect: " + (", ".join(services) if services else "no business service"))
    return "\n".join(lines)


def _walk(
    topology: Topology,
    node_id: str,
    lead: str,
    indent: str,
    on_path: set[str],
    shown: set[str],
    lines: list[str],
) -> None:
    node = topology.nodes[node_id]
    detail = f"{node.kind.value}"
    if node.kind is Kind.GROUP:
        detail += f", min_healthy {node.min_healthy} of {len(node.members)}"
    if node_id in on_path:
        lines.append(f"{lead}{node_id} ({detail})  <- cycle")
        return
    if node_id in shown and node.needs:
        lines.append(f"{lead}{node_id} ({detail})  (expanded above)")
        return
    lines.append(f"{lead}{node_id} ({detail})")
    shown.add(node_id)
    needs = node.needs
    for position, need in enumerate(needs):
        last = position == len(needs) - 1
        branch = "└── " if last else "├── "
        _walk(
            topology, need, indent + branch, indent + ("    " if last else "│   "),
            on_path | {node_id}, shown, lines,
        )  # fmt: skip
