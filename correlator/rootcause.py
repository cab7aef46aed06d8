"""Root-cause ranking: which alerting node explains the others.

The root cause of an incident is the alerting node that the most other alerting
nodes depend on, directly or not (its failure explains theirs). Ties go to the
deeper node (further from the business service: closer to the metal), then to the
one whose alerts started first, then to the node id, so the answer is stable.
Confidence is the share of the incident's alerting nodes it explains, itself
included: 1.0 when everything alerting sits on top of it.
"""

from collections.abc import Mapping, Sequence
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
    standing = _standing(topology, business_service, frozenset(s.node for s in suspects))
    ranked = sorted(suspects, key=lambda s: (*standing[s.node].order, s.first_start, s.node))
    return [
        Candidate(
            node=suspect.node,
            kind=(place := standing[suspect.node]).kind,
            confidence=place.confidence,
            explains=place.explains,
            fingerprints=suspect.fingerprints,
        )
        for suspect in ranked
    ]


class _Standing(NamedTuple):
    """What ranking knows of an alerting node from the graph alone, before any start time."""

    order: tuple[int, int]
    """Explains more first, then deeper first."""
    kind: str
    confidence: float
    explains: tuple[str, ...]


def _standing(
    topology: Topology, business_service: str, alerting: frozenset[str]
) -> dict[str, _Standing]:
    standing = {}
    for node_id in alerting:
        explains = tuple(sorted(topology.ancestors(node_id) & alerting))
        depth = len(topology.path(node_id, business_service))
        standing[node_id] = _Standing(
            (-len(explains), -depth),
            topology.nodes[node_id].kind,
            round((len(explains) + 1) / len(alerting), 3),
            explains,
        )
    return standing


def suspects_of(starts: Mapping[str, Sequence[tuple[float, str]]]) -> list[Suspect]:
    """Build suspects from ``node -> [(starts_at, fingerprint), ...]``."""
    return [
        Suspect(node, min(alerts)[0], tuple(sorted(fp for _, fp in alerts)))
        for node, alerts in sorted(starts.items())
    ]
