"""``correlator replay``: the core, offline, on a simulated clock, from a JSONL alert file.

Each line is a raw message body exactly as it arrives on ``alerts.raw``, or an
envelope ``{"received_at": <RFC 3339 or epoch seconds>, "value": <body>}`` whose
``received_at`` is the arrival time. Without an envelope, arrival time is the
alerts' own timestamp. At the end of input the clock runs on by ``group_wait`` so
that incidents still waiting emit their first impact.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from correlator.deadletter import dead_letter
from correlator.event import ImpactEvent
from correlator.parse import Rejection, RejectReason
from correlator.pipeline import Pipeline, Received
from correlator.stages import Tally
from correlator.timestamps import TimestampError, parse_timestamp

EventSink = Callable[[ImpactEvent], object]
DeadLetterSink = Callable[[dict[str, object]], object]
ProgressSink = Callable[[int, Tally], object]
PROGRESS_EVERY = 10_000
"""Lines between calls of the progress sink."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    lines: int
    tally: Tally
    open_incidents: int
    """Impacts still open when the input ended."""
    first_rejection: str | None
    """``line N: why`` of the first line or alert rejected, to show without --deadletter."""


def replay(
    pipeline: Pipeline,
    lines: Iterable[bytes],
    source: str,
    on_event: EventSink,
    on_dead_letter: DeadLetterSink | None = None,
    on_progress: ProgressSink | None = None,
) -> ReplayResult:
    count = 0
    first_rejection = None
    limit = pipeline.settings.limits.max_deadletter_raw_bytes
    for count, raw_line in enumerate(lines, start=1):
        if on_progress is not None and count % PROGRESS_EVERY == 0:
            on_progress(count, pipeline.tally)
        line = raw_line.rstrip(b"\r\n")
        received, received_at = _receive_line(pipeline, line)
        for event in received.events:
            on_event(event)
        if received.rejections and first_rejection is None:
            first_rejection = f"line {count}: {received.rejections[0].error}"
        if on_dead_letter is not None:
            at = received_at if received_at is not None else pipeline.clock
            for rejection in received.rejections:
                source_of = {"file": source, "line": count}
                on_dead_letter(dead_letter(rejection, line, at, source_of, limit))
    if pipeline.clock is not None:
        for event in pipeline.advance(pipeline.clock + pipeline.settings.group_wait):
            on_event(event)
    return ReplayResult(count, pipeline.tally, pipeline.open_incidents(), first_rejection)


def _receive_line(pipeline: Pipeline, line: bytes) -> tuple[Received, float | None]:
    """What one line brought, and its envelope's arrival time if it had one."""
    document = pipeline.parser.decode(line)
    if isinstance(document, Rejection):
        return pipeline.reject(document), None
    if not _is_envelope(document):
        return pipeline.receive_document(document, None), None
    assert isinstance(document, Mapping)
    try:
        received_at = parse_timestamp(document["received_at"])
    except TimestampError as error:
        rejection = Rejection(RejectReason.BAD_TIMESTAMP, f"received_at: {error}")
        return pipeline.reject(rejection), None
    return pipeline.receive_document(document["value"], received_at), received_at


def _is_envelope(document: object) -> bool:
    return isinstance(document, Mapping) and "value" in document and "received_at" in document
