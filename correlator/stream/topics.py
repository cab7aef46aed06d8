"""The worker's topics: which exist, with how many partitions, created or checked at start.

Topics the worker keys its state by (the repartition topics and the tables'
changelogs) must all have exactly ``partitions`` partitions: a table and the stream
that updates it are co-partitioned, and a changelog with another count would restore
keys onto the wrong worker. The worker refuses to start on a mismatch instead of
silently mixing state. The edge topics (``alerts.raw``, ``impacts``,
``alerts.deadletter``) may have any count.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from correlator.errors import CorrelatorError


class TopicMismatchError(CorrelatorError):
    """Existing topics have partition counts the worker's tables cannot use.

    Either start with ``--partitions`` equal to what the topics have, or (losing the
    correlation state, not the alerts) delete the listed internal topics.
    """


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    keyed_state: bool
    """True when state is partitioned by it: its partition count must match exactly."""
    compacted: bool = False


async def ensure_topics(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]) -> list[str]:
    """Create the missing topics, check the existing ones; return the names created."""
    existing = set(await admin.list_topics())
    missing = [spec for spec in specs if spec.name not in existing]
    if missing:
        await admin.create_topics([_new_topic(spec) for spec in missing])
    present = [spec for spec in specs if spec.name in existing and spec.keyed_state]
    if present:
        found = {
            topic["topic"]: len(topic["partitions"])
            for topic in await admin.describe_topics([spec.name for spec in present])
        }
        wrong = [
            spec for spec in present if found.get(spec.name, spec.partitions) != spec.partitions
        ]
        if wrong:
            raise TopicMismatchError(_mismatch_message(wrong, found))
    return [spec.name for spec in missing]


def _new_topic(spec: TopicSpec) -> NewTopic:
    configs = {"cleanup.policy": "compact"} if spec.compacted else {}
    return NewTopic(spec.name, spec.partitions, spec.replication, topic_configs=configs)


def _mismatch_message(wrong: Sequence[TopicSpec], found: dict[str, int]) -> str:
    lines = [
        f"  {spec.name}: has {found[spec.name]} partitions, the worker needs {spec.partitions}"
        for spec in wrong
    ]
    counts = sorted({found[spec.name] for spec in wrong})
    return "\n".join(
        [
            "existing topics do not match the worker's partition count:",
            *lines,
            f"start with --partitions {counts[0]} (CORRELATOR_PARTITIONS) to use them as they "
            "are, or delete these internal topics to start the correlation state afresh",
        ]
    )
