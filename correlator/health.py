"""How well a node or business service is doing: the ``status`` of an impact event."""

from enum import StrEnum


class Health(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"

    @property
    def rank(self) -> int:
        """Badness, for taking the worst of several: ok < degraded < down."""
        return RANK[self]


RANK = {Health.OK: 0, Health.DEGRADED: 1, Health.DOWN: 2}
BY_RANK = (Health.OK, Health.DEGRADED, Health.DOWN)
"""``BY_RANK[health.rank] is health``: for loops that work on plain ints."""


def worst(first: Health, second: Health) -> Health:
    return first if RANK[first] >= RANK[second] else second
