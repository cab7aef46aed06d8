"""Root-cause ranking: which alerting node explains the others.

The root cause of an incident is the alerting node that the most other alerting
nodes depend on, directly or not (its failure explains theirs). Ties go to the
deeper node (further from the business service: closer to the metal), then to the
one whose alerts started first, then to the node id, so the answer is stable.
Confidence is the share of the incident's alerting nodes it explains, itself
included: 1.0 when everything alerting sits on top of it.
"""

from collections.abc import Sequence
from operator import itemgetter
from typing import NamedTuple

from correlator.topology import Topology


class Suspect(NamedTuple):
    """An alerting node as root-cause ranking sees it.

    Suspects and candidates are NamedTuples rather than dataclasses: several of each
    are built for every assessment, hundreds of thousands in a storm, and compared
    whenever an assessment is compared with the last one told.
    """

    node: str
    first_start: float
    fingerprints: tuple[str, ...]


class Candidate(NamedTuple):
    node: str
    kind: str
    confidence: float
    explains: tuple[str, ...]
    """The other alerting nodes that depend on this one."""
    fingerprints: tuple[str, ...]


def rank(topology: Topology, business_service: str, suspects: Sequence[Suspect]) -> list[Candidate]:
    """Candidates best first; empty when there are no suspects."""
    if len(suspects) == 1:
        # A lone suspect explains nothing else and everything: no graph question to ask.
        only = suspects[0]
        return [Candidate(only.node, topology.nodes[only.node].kind, 1.0, (), only.fingerprints)]
    alerting = frozenset(s.node for s in suspects)
    share = len(alerting)
    ancestors, path, nodes = topology.ancestors, topology.path, topology.nodes
    ranked = []
    for suspect in suspects:
        node = suspect.node
        explains = tuple(sorted(ancestors(node) & alerting))
        order = (-len(explains), -len(path(node, business_service)), suspect.first_start, node)
        confidence = round((len(explains) + 1) / share, 3)
        candidate = Candidate(node, nodes[node].kind, confidence, explains, suspect.fingerprints)
        ranked.append((order, candidate))
    # Explains more first, then deeper first, then the earlier start, then the node id.
    ranked.sort(key=_order)
    return [candidate for _, candidate in ranked]


_order = itemgetter(0)
