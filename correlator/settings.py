"""The knobs of the core: input bounds and correlation semantics, with their defaults.

The streaming shell and ``replay`` build one ``CoreSettings`` from flags and
``CORRELATOR_*`` variables (see ``correlator.config``); the core only reads it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from correlator.health import Health
from correlator.priority import PriorityMatrix

DEFAULT_SEVERITY_HEALTH: Mapping[str, Health] = {
    "critical": Health.DOWN,
    "error": Health.DOWN,
    "warning": Health.DEGRADED,
    "info": Health.OK,
    "none": Health.OK,
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on input, so one hostile or broken message cannot exhaust a worker."""

    max_body_bytes: int = 32 * 1024 * 1024
    max_alerts_per_message: int = 100_000
    max_labels: int = 128
    max_label_bytes: int = 4096
    """Longest label name or value, in UTF-8 bytes."""
    max_deadletter_raw_bytes: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class CoreSettings:
    limits: Limits = field(default_factory=Limits)
    resolve_timeout: float = 300.0
    """A firing alert not refreshed for this long resolves."""
    window: float = 300.0
    """Alerts on related nodes that start within this of an incident's first start join it."""
    group_wait: float = 10.0
    """The first impact of an incident waits this long, so a cascade lands in one event."""
    group_interval: float = 60.0
    """Updates that change only an incident's alerts wait at least this long after the last."""
    flap_window: float = 600.0
    flap_threshold: int = 4
    """An alert that flips state more than this many times within ``flap_window`` is flapping."""
    severity_health: Mapping[str, Health] = field(
        default_factory=lambda: dict(DEFAULT_SEVERITY_HEALTH)
    )
    unknown_severity_health: Health = Health.DEGRADED
    """Health for a severity missing from the map: an unknown alert still matters."""
    priorities: PriorityMatrix = field(default_factory=PriorityMatrix)

    def health_of(self, severity: str) -> Health:
        return self.severity_health.get(severity, self.unknown_severity_health)
