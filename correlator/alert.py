"""The normalized alert every input format is parsed into."""

from collections.abc import Mapping
from typing import NamedTuple


class Alert(NamedTuple):
    """One alert of one message.

    A NamedTuple rather than a dataclass: one is built for every alert of every
    message, a million in a storm, and a tuple is several times cheaper to build.
    """

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
