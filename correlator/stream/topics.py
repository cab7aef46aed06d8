"""The worker's topics: which exist, with how many partitions, created or checked at start.

Topics the worker keys its state by (the repartition topics and the tables'
changelogs) must all have exactly ``partitions`` partitions: a table and the stream
that updates it are co-partitioned, and a changelog with another count would restore
keys onto the wrong worker. The worker refuses to start on a mismatch instead of
silently mixing state. The edge topics (``alerts.raw``, ``impacts``,
``alerts.deadletter``) may have any count.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from correlator.errors import CorrelatorError
from correlator.stream.connection import bootstrap_servers, credentials
from correlator.stream.settings import WorkerSettings

log = logging.getLogger("correlator.topics")
ALERT_TABLE = "alert-states"
SERVICE_TABLE = "service-states"
MERGE_TABLE = "merges"
RETRY_FIRST = 0.5
RETRY_MAX = 10.0


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


def by_fingerprint_topic(settings: WorkerSettings) -> str:
    return f"{settings.app_id}-alerts-by-fingerprint"


def by_service_topic(settings: WorkerSettings) -> str:
    return f"{settings.app_id}-changes-by-service"


def topic_specs(settings: WorkerSettings) -> list[TopicSpec]:
    """Every topic the worker reads or writes, for ``ensure_topics`` before Faust starts."""
    n, r = settings.partitions, settings.replication
    return [
        TopicSpec(settings.raw_topic, settings.raw_partitions, r, keyed_state=False),
        TopicSpec(settings.impacts_topic, settings.raw_partitions, r, keyed_state=False),
        TopicSpec(settings.deadletter_topic, settings.raw_partitions, r, keyed_state=False),
        TopicSpec(by_fingerprint_topic(settings), n, r, keyed_state=True),
        TopicSpec(by_service_topic(settings), n, r, keyed_state=True),
        TopicSpec(f"{settings.app_id}-{ALERT_TABLE}-changelog", n, r, True, compacted=True),
        TopicSpec(f"{settings.app_id}-{SERVICE_TABLE}-changelog", n, r, True, compacted=True),
        TopicSpec(f"{settings.app_id}-{MERGE_TABLE}-changelog", n, r, True, compacted=True),
    ]


async def prepare_topics(settings: WorkerSettings, attempts: int | None = None) -> list[str]:
    """Create missing topics and check the others; retry, with backoff, while the broker is away."""
    delay = RETRY_FIRST
    attempt = 0
    while True:
        attempt += 1
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers(settings),
            **credentials_to_aiokafka_auth(credentials(settings)),
        )
        try:
            await admin.start()
            return await ensure_topics(admin, topic_specs(settings))
        except (KafkaError, OSError) as error:
            if attempts is not None and attempt >= attempts:
                raise
            log.warning(
                "broker %s unreachable (%s); retrying in %.1f s", settings.broker, error, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
        finally:
            await admin.close()
