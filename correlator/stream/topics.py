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
from typing import Any

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
TOPIC_ALREADY_EXISTS = 36
RETRY_FIRST = 0.5
RETRY_MAX = 10.0


class TopicCreationError(CorrelatorError):
    """The broker refused to create a topic; the message has its error per topic."""


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
    """Check the existing topics, then create the missing ones; return the names created.

    Checking first: a refused start must leave the broker as it was, so that the
    advice in the refusal works when followed.
    """
    existing = set(await admin.list_topics())
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
    missing = [spec for spec in specs if spec.name not in existing]
    if missing:
        response = await admin.create_topics([_new_topic(spec) for spec in missing])
        _raise_for_errors(response.topic_errors)
    return [spec.name for spec in missing]


def _raise_for_errors(topic_errors: Sequence[tuple[Any, ...]]) -> None:
    """Errors the broker gave per topic; one that already exists (36) is another worker's."""
    failed = [
        f"  {error[0]}: error {error[1]}"
        + (f" ({error[2]})" if len(error) > 2 and error[2] else "")
        for error in topic_errors
        if error[1] not in (0, TOPIC_ALREADY_EXISTS)
    ]
    if failed:
        msg = "\n".join(
            [
                "the broker refused to create topics:",
                *failed,
                "check --replication (at most the number of brokers) and the topic names",
            ]
        )
        raise TopicCreationError(msg)


def _new_topic(spec: TopicSpec) -> NewTopic:
    configs = {"cleanup.policy": "compact"} if spec.compacted else {}
    return NewTopic(spec.name, spec.partitions, spec.replication, topic_configs=configs)


def _mismatch_message(wrong: Sequence[TopicSpec], found: dict[str, int]) -> str:
    lines = [
        f"  {spec.name}: has {found[spec.name]} partitions, the worker needs {spec.partitions}"
        for spec in wrong
    ]
    counts = sorted(set(found.values()))
    if len(counts) == 1:
        advice = (
            f"start with --partitions {counts[0]} (CORRELATOR_PARTITIONS) to use them as they "
            "are, or delete these internal topics to start the correlation state afresh"
        )
    else:
        shown = ", ".join(str(count) for count in counts)
        advice = (
            f"the existing internal topics disagree among themselves ({shown} partitions): "
            "delete them to start the correlation state afresh"
        )
    return "\n".join(["existing topics do not match the worker's partition count:", *lines, advice])


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
