"""Priority of an impact: business criticality (impact) x service health (urgency).

The default matrix, ITIL-style (criticality 1 is the most important service):

    criticality   down   degraded
    1             P1     P2
    2             P2     P3
    3             P3     P4
    4             P4     P4
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from correlator.health import Health

PRIORITIES = ("P1", "P2", "P3", "P4")
CRITICALITIES = (1, 2, 3, 4)

DEFAULT_MATRIX: Mapping[tuple[int, Health], str] = {
    (1, Health.DOWN): "P1",
    (1, Health.DEGRADED): "P2",
    (2, Health.DOWN): "P2",
    (2, Health.DEGRADED): "P3",
    (3, Health.DOWN): "P3",
    (3, Health.DEGRADED): "P4",
    (4, Health.DOWN): "P4",
    (4, Health.DEGRADED): "P4",
}


@dataclass(frozen=True, slots=True)
class PriorityMatrix:
    cells: Mapping[tuple[int, Health], str] = field(default_factory=lambda: dict(DEFAULT_MATRIX))

    def priority(self, criticality: int, health: Health) -> str | None:
        """The priority of a service of this criticality in this health; None while ok."""
        if health is Health.OK:
            return None
        return self.cells[(criticality, health)]

    @classmethod
    def from_mapping(cls, raw: object) -> "PriorityMatrix":
        """Read ``{"1": {"down": "P1", "degraded": "P2"}, ...}``; cells not given keep defaults.

        Raises ValueError naming the bad cell.
        """
        if not isinstance(raw, Mapping):
            msg = 'priority matrix must be an object like {"1": {"down": "P1"}}'
            raise ValueError(msg)
        cells = dict(DEFAULT_MATRIX)
        for criticality_text, row in raw.items():
            criticality = _criticality(criticality_text)
            if not isinstance(row, Mapping):
                msg = f"priority matrix row {criticality_text!r} must be an object"
                raise ValueError(msg)
            for health_text, priority in row.items():
                if health_text not in (Health.DOWN, Health.DEGRADED):
                    msg = (
                        f"priority matrix row {criticality_text!r}: unknown status {health_text!r}"
                    )
                    raise ValueError(msg)
                if priority not in PRIORITIES:
                    msg = (
                        f"priority matrix cell {criticality_text}/{health_text}: "
                        f"expected one of {', '.join(PRIORITIES)}, got {priority!r}"
                    )
                    raise ValueError(msg)
                cells[(criticality, Health(health_text))] = priority
        return cls(cells)


def _criticality(text: object) -> int:
    try:
        value = int(str(text))
    except ValueError:
        value = 0
    if value not in CRITICALITIES:
        msg = f"priority matrix: criticality must be 1..4, got {text!r}"
        raise ValueError(msg)
    return value
