"""The service topology: what depends on what, and which alerts land on which node."""

from correlator.topology.load import load_topology, parse_topology
from correlator.topology.model import Kind, Node, Topology

__all__ = ["Kind", "Node", "Topology", "load_topology", "parse_topology"]
