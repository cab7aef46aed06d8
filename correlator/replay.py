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
from correlator.pipeline import Pipeline, Received, Tally
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


def replay(
    pipeline: Pipeline,
    lines: Iterable[bytes],
    source: str,
    on_event: EventSink,
    on_dead_letter: DeadLetterSink | None = None,
    on_progress: ProgressSink | None = None,
) -> ReplayResult:
    count = 0
    for count, raw_line in enumerate(lines, start=1):
        if on_progress is not None and count % PROGRESS_EVERY == 0:
            on_progress(count, pipeline.tally)
        line = raw_line.rstrip(b"\r\n")
        received = _receive_line(pipeline, line)
        for event in received.events:
            on_event(event)
        if on_dead_letter is not None:
            for rejection in received.rejections:
                at = pipeline.now if pipeline.now != float("-inf") else 0.0
                source_of = {"file": source, "line": count}
                limit = pipeline.settings.limits.max_deadletter_raw_bytes
                on_dead_letter(dead_letter(rejection, line, at, source_of, limit))
    if pipeline.now != float("-inf"):
        for event in pipeline.advance(pipeline.now + pipeline.settings.group_wait):
            on_event(event)
    return ReplayResult(count, pipeline.tally, pipeline.open_incidents())


def _receive_line(pipeline: Pipeline, line: bytes) -> Received:
    document = pipeline.parser.decode(line)
    if isinstance(document, Rejection):
        return pipeline.reject(document)
    if not _is_envelope(document):
        return pipeline.receive_document(document, None)
    assert isinstance(document, Mapping)
    try:
        received_at = parse_timestamp(document["received_at"])
    except TimestampError as error:
        return pipeline.reject(Rejection(RejectReason.BAD_TIMESTAMP, f"received_at: {error}"))
    return pipeline.receive_document(document["value"], received_at)


def _is_envelope(document: object) -> bool:
    return isinstance(document, Mapping) and "value" in document and "received_at" in document
