"""Root-cause ranking: which alerting node explains the others.

The root cause of an incident is the alerting node that the most other alerting
nodes depend on, directly or not (its failure explains theirs). Ties go to the
deeper node (further from the business service: closer to the metal), then to the
one whose alerts started first, then to the node id, so the answer is stable.
Confidence is the share of the incident's alerting nodes it explains, itself
included: 1.0 when everything alerting sits on top of it.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from correlator.topology import Topology


@dataclass(frozen=True, slots=True)
class Suspect:
    """An alerting node as root-cause ranking sees it."""

    node: str
    first_start: float
    fingerprints: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Candidate:
    node: str
    kind: str
    confidence: float
    explains: tuple[str, ...]
    """The other alerting nodes that depend on this one."""
    fingerprints: tuple[str, ...]


def rank(topology: Topology, business_service: str, suspects: Sequence[Suspect]) -> list[Candidate]:
    """Candidates best first; empty when there are no suspects."""
    alerting = {suspect.node for suspect in suspects}
    scored = []
    for suspect in suspects:
        explains = tuple(sorted(topology.ancestors(suspect.node) & alerting))
        depth = len(topology.path(suspect.node, business_service))
        scored.append(
            ((-len(explains), -depth, suspect.first_start, suspect.node), suspect, explains)
        )
    scored.sort(key=lambda item: item[0])
    return [
        Candidate(
            node=suspect.node,
            kind=topology.nodes[suspect.node].kind,
            confidence=round((len(explains) + 1) / len(alerting), 3),
            explains=explains,
            fingerprints=suspect.fingerprints,
        )
        for _, suspect, explains in scored
    ]


def suspects_of(starts: Mapping[str, Sequence[tuple[float, str]]]) -> list[Suspect]:
    """Build suspects from ``node -> [(starts_at, fingerprint), ...]``."""
    return [
        Suspect(node, min(start for start, _ in alerts), tuple(sorted(fp for _, fp in alerts)))
        for node, alerts in sorted(starts.items())
    ]
