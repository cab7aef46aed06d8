"""The ``correlator`` command line."""

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import orjson

from correlator import __version__
from correlator.config import (
    add_core_options,
    add_worker_options,
    core_settings,
    env_default,
    env_name,
    port,
    positive_float,
    worker_settings,
)
from correlator.console import event_line, service_column, summary
from correlator.errors import CorrelatorError, FileAccessError, SettingsError
from correlator.parse import RejectReason
from correlator.pipeline import Pipeline
from correlator.replay import EventSink, ProgressSink, replay
from correlator.stages import Tally
from correlator.topology import Topology, load_topology
from correlator.topology.render import dependency_tree, overview

EXIT_FAILED = 1
DEMO_SAMPLE = "topologies/online-boutique"
FORMATS = ("jsonl", "text")
_FILE_OPTIONS = [
    ("--topology", "", "topology file (YAML or JSON)"),
    ("--alerts", "", "JSONL alert file ('-' for stdin)"),
    ("--out", "-", "where impact events go (default stdout)"),
    ("--deadletter", "", "write rejected lines here, in the dead-letter shape"),
    ("--format", "jsonl", "jsonl (default) or text: one readable line per event"),
]

_DEMO_OPTIONS: list[tuple[str, str, Callable[[str], object], str]] = [
    ("--sample", DEMO_SAMPLE, str, "a directory of topologies/"),
    ("--speed", "20", positive_float, "times faster than recorded the alerts arrive"),
    ("--web-port", "6066", port, "port of /metrics"),
]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        command: Callable[[argparse.Namespace], int] = args.command
        return command(args)
    except CorrelatorError as error:
        for line in str(error).splitlines():
            print(f"correlator: {line}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="correlator",
        description="Turn alert storms into the few business-impact events that matter.",
    )
    parser.add_argument("--version", action="version", version=f"correlator {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser(
        "replay",
        help="run the core offline on a JSONL alert file",
        description="Read JSONL alerts, correlate them on a simulated clock, write impact events.",
    )
    files = run.add_argument_group("files and output (each also read from CORRELATOR_<FLAG>)")
    for flag, default, help_text in _FILE_OPTIONS:
        files.add_argument(flag, default=env_default(flag, default), help=help_text)
    add_core_options(run)
    run.set_defaults(command=_replay)

    worker = commands.add_parser(
        "worker",
        help="run the streaming worker against Kafka",
        description="Consume alerts.raw, correlate, produce impacts; state in changelog tables.",
    )
    add_worker_options(worker)
    add_core_options(worker)
    worker.set_defaults(command=_worker)

    demo = commands.add_parser(
        "demo",
        help="the whole thing on an embedded broker, with a sample alert stream",
        description="Start a local broker and a worker, stream sample alerts, show impacts live.",
    )
    demo.add_argument(
        "--sample",
        default=env_default("--sample", DEMO_SAMPLE),
        help=f"a directory of topologies/ (default {DEMO_SAMPLE})",
    )
    demo.add_argument(
        "--speed",
        type=positive_float,
        default=env_default("--speed", "20"),
        help="how many times faster than recorded the alerts arrive (default 20)",
    )
    demo.add_argument(
        "--web-port",
        type=port,
        default=env_default("--web-port", "6066"),
        help="port of /metrics (default 6066)",
    )
    add_core_options(demo)
    demo.set_defaults(command=_demo)

    topology = commands.add_parser("topology", help="check or inspect a topology file")
    actions = topology.add_subparsers(required=True, metavar="ACTION")
    validate = actions.add_parser("validate", help="check a topology file")
    validate.add_argument("file")
    validate.set_defaults(command=_validate)
    show = actions.add_parser("show", help="counts by kind, or one node's dependency tree")
    show.add_argument("file")
    show.add_argument("node", nargs="?")
    show.set_defaults(command=_show)
    return parser  # fmt: skip


def _validate(args: argparse.Namespace) -> int:
    topology = load_topology(args.file)
    _warn_cycles(topology, args.file)
    print(f"{args.file}: ok, {len(topology)} nodes, topology version {topology.version}")
    return 0


def _show(args: argparse.Namespace) -> int:
    topology = load_topology(args.file)
    _warn_cycles(topology, args.file)
    if args.node is None:
        print(overview(topology))
        return 0
    if args.node not in topology.nodes:
        print(f"correlator: {args.file}: no node {args.node!r}", file=sys.stderr)
        return EXIT_FAILED
    print(dependency_tree(topology, args.node))
    return 0


def _warn_cycles(topology: Topology, path: str) -> None:
    for cycle in topology.cycles():
        print(f"warning: {path}: dependency cycle: {' -> '.join(cycle)}", file=sys.stderr)


def _worker(args: argparse.Namespace) -> int:
    from correlator.stream.worker import serve  # Faust is slow to import; replay does without

    settings = worker_settings(args)
    topology = load_topology(settings.topology)
    _warn_cycles(topology, settings.topology)
    serve(settings, topology, core_settings(args))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from correlator.stream.demo import run_demo

    run_demo(Path(args.sample), args.speed, args.web_port, core_settings(args))
    return 0


def _replay(args: argparse.Namespace) -> int:
    for flag in ("--topology", "--alerts"):
        if not getattr(args, flag[2:]):
            msg = f"replay needs {flag} FILE (or {env_name(flag)})"
            raise SettingsError(msg)
    if args.format not in FORMATS:
        expected = ", ".join(FORMATS)
        msg = f"--format ({env_name('--format')}): expected {expected}, got {args.format!r}"
        raise SettingsError(msg)
    topology = load_topology(args.topology)
    _warn_cycles(topology, args.topology)
    pipeline = Pipeline(topology, core_settings(args))
    with ExitStack() as files:
        out = _open_output(files, args.out)
        deadletters = _open_output(files, args.deadletter) if args.deadletter else None
        write_event = _event_writer(out, args.format, service_column(topology))
        result = replay(
            pipeline,
            _lines(files, args.alerts),
            args.alerts,
            write_event,
            (lambda record: deadletters.write(orjson.dumps(record) + b"\n"))
            if deadletters
            else None,
            _progress_printer(),
        )
    report = summary(
        result.tally, result.lines, result.open_incidents, result.first_rejection, args.deadletter
    )
    print(report, file=sys.stderr)
    if _nothing_like_alerts(result.tally):
        print(
            f"replay: no line of {args.alerts} held an alert; --alerts takes JSON lines, each an "
            "Alertmanager webhook payload, a generic alert, a list of them, or an envelope "
            '{"received_at", "value"} of one (README, "Input")',
            file=sys.stderr,
        )
    return 0


_NOT_ALERTS = {
    reason.value
    for reason in (RejectReason.EMPTY, RejectReason.NOT_UTF8, RejectReason.INVALID_JSON,
                   RejectReason.UNKNOWN_FORMAT)
}  # fmt: skip
"""Reasons a line is not an alert message at all."""


def _nothing_like_alerts(tally: Tally) -> bool:
    """No alert read, and every line rejected for not being one at all (a wrong file):
    alerts that fail a check are the sender's problem, and the summary says which."""
    return (
        not sum(tally.received.values())
        and bool(tally.invalid)
        and set(tally.invalid) <= _NOT_ALERTS
    )


def _progress_printer(every_seconds: float = 5.0) -> ProgressSink:
    """Say how far a long replay has got, at most every few seconds, on stderr."""
    started = last = time.monotonic()

    def show(lines: int, tally: Tally) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= every_seconds:
            last = now
            alerts = sum(tally.received.values())
            rate = alerts / (now - started)
            print(
                f"replay: {lines:,} lines, {alerts:,} alerts, {rate:,.0f} alerts/s", file=sys.stderr
            )

    return show


def _event_writer(out: BinaryIO, output_format: str, service_width: int) -> EventSink:
    if output_format == "text":
        return lambda event: out.write((event_line(event.document, service_width) + "\n").encode())
    return lambda event: out.write(event.to_json() + b"\n")


def _open_output(files: ExitStack, path: str) -> BinaryIO:
    if path == "-":
        return sys.stdout.buffer
    try:
        return files.enter_context(Path(path).open("wb"))
    except OSError as error:
        msg = f"cannot write {path}: {error.strerror}"
        raise FileAccessError(msg) from None


def _lines(files: ExitStack, path: str) -> Iterator[bytes]:
    if path == "-":
        return iter(sys.stdin.buffer)
    try:
        return iter(files.enter_context(Path(path).open("rb")))
    except OSError as error:
        msg = f"cannot read alerts from {path}: {error.strerror}"
        raise FileAccessError(msg) from None
