"""The normalized alert every input format is parsed into."""

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Alert:
    fingerprint: str
    """Alertmanager-compatible hash of the labels (see ``correlator.fingerprint``)."""
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    firing: bool
    starts_at: float
    ends_at: float | None
    received_at: float
    """Arrival time: the envelope's or record's timestamp, else the alert's own."""
    generator_url: str
    source_format: str
    """``alertmanager`` or ``generic``: the shape it arrived in."""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")
