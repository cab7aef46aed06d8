"""How well a node or business service is doing: the ``status`` of an impact event."""

from enum import StrEnum


class Health(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"

    @property
    def rank(self) -> int:
        """Badness, for taking the worst of several: ok < degraded < down."""
        return _RANK[self]


_RANK = {Health.OK: 0, Health.DEGRADED: 1, Health.DOWN: 2}


def worst(first: Health, second: Health) -> Health:
    return first if first.rank >= second.rank else second
