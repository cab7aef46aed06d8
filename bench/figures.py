"""One figure per output line, so results can be grepped, diffed and plotted without a parser."""

import gc
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import orjson

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float
    unit: str
    extra: dict[str, object] = field(default_factory=dict)
    """``n``, ``seconds``, ``target``, ``method``, ``baseline`` (for ratios) and the like."""

    def line(self) -> str:
        value = round(self.value, 4) if isinstance(self.value, float) else self.value
        return orjson.dumps(
            {"name": self.name, "value": value, "unit": self.unit, **self.extra}
        ).decode()


def timed(work: Callable[[], T]) -> tuple[T, float]:
    """Run ``work`` once and say how long it took; a full collection first so none is owed."""
    gc.collect()
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def current_rss() -> int:
    """Resident memory now (not the peak), in bytes: what growth is measured against."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def peak_rss() -> int:
    """The most resident memory so far, in bytes (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024
