"""The worker's settings: where the broker is, the topics, the clock, the group's timing."""

from dataclasses import dataclass, fields
from enum import StrEnum


class Clock(StrEnum):
    WALL = "wall"
    """Timers fire on the wall clock: production."""
    EVENT = "event"
    """Time is the highest record timestamp seen: a recorded file gives replay's impacts."""


SECRET_FIELDS = frozenset({"sasl_password", "ingest_token"})
SECURITY_PROTOCOLS = frozenset({"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"})


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    topology: str
    broker: str = "kafka://localhost:9092"
    """One or more ``kafka://host:port`` URLs, separated by ``;`` or ``,``."""
    app_id: str = "correlator"
    """The consumer group, and the prefix of the worker's own topics."""
    partitions: int = 8
    """Partitions of the worker's repartition and changelog topics: at most this many workers."""
    replication: int = 1
    raw_topic: str = "alerts.raw"
    raw_partitions: int = 8
    """Partitions ``alerts.raw`` gets if the worker creates it; an existing one is used as is."""
    impacts_topic: str = "impacts"
    deadletter_topic: str = "alerts.deadletter"
    clock: Clock = Clock.WALL
    topology_check_interval: float = 5.0
    """How often the topology file is checked for a change (then validated and swapped in)."""
    tick_interval: float = 0.05
    """How often timers (group wait, resolve timeout) are checked on the wall clock."""
    fetch_max_wait: float = 0.05
    """Longest a fetch waits for records (``correlator.stream.compat`` says why it is short)."""
    batch_size: int = 500
    """Most records an agent takes in one step: their outputs are acknowledged together."""
    batch_wait: float = 0.02
    """Longest an agent waits for a batch to fill, and the producer for records to send together."""
    commit_interval: float = 0.5
    """How often processed offsets are committed: after a crash, at most about this much
    input is read again; shorter commits more often."""
    session_timeout: float = 10.0
    """How long the group waits for a silent worker before handing its partitions on."""
    web_port: int = 6066
    web_host: str = "0.0.0.0"
    data_dir: str = ".correlator"
    ingest_token: str = ""
    """Bearer token HTTP ingest requires; empty: none."""
    security_protocol: str = "PLAINTEXT"
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    sasl_mechanism: str = "PLAIN"
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""

    def describe(self) -> list[str]:
        """One ``name = value`` line a setting, secrets masked, for the log at start."""
        lines = []
        for field in fields(self):
            value = getattr(self, field.name)
            shown = "*****" if field.name in SECRET_FIELDS and value else value
            lines.append(f"{field.name} = {shown}")
        return lines
