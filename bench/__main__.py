"""``python -m bench``: every figure as one JSON object a line on stdout; progress on stderr.

Benchmarks run in order of how much they tell per second spent: topology (fast),
replay, then memory (two processes holding up to a million open alerts).
"""

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench import memory_bench, replay_bench, stream_bench, topology_bench
from bench.cache import progress
from bench.figures import Figure
from bench.scale import Scale


@dataclass(frozen=True, slots=True)
class Bench:
    names: tuple[str, ...]
    """Names (or, for per-size figures, name prefixes) of the figures it reports."""
    run: Callable[[Scale], list[Figure]]
    name: str = ""
    """What ``--only`` may also say to get all its figures, whatever their names."""


BENCHES = (
    Bench(topology_bench.NAMES, topology_bench.run),
    Bench(replay_bench.NAMES, replay_bench.run),
    Bench(memory_bench.NAMES, memory_bench.run),
    Bench(stream_bench.NAMES, stream_bench.run, "stream"),
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="ten times smaller: a smoke test")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="report only figures whose name starts with NAME (repeatable)",
    )
    args = parser.parse_args(argv)
    scale = Scale().quick() if args.quick else Scale()
    wanted: list[str] = args.only or []
    chosen = [bench for bench in BENCHES if not wanted or _selects(bench, wanted)]
    if not chosen:
        known = ", ".join(name for bench in BENCHES for name in bench.names)
        parser.error(f"no figure matches {', '.join(wanted)}; known: {known}")
    started = time.perf_counter()
    for bench in chosen:
        for figure in bench.run(scale):
            if not wanted or bench.name in wanted or any(map(figure.name.startswith, wanted)):
                print(figure.line(), flush=True)
    progress(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def _selects(bench: Bench, wanted: list[str]) -> bool:
    return any(name.startswith(w) or w.startswith(name) for name in bench.names for w in wanted)


if __name__ == "__main__":
    sys.exit(main())
