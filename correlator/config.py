"""Settings from flags and ``CORRELATOR_*`` environment variables, into one typed object.

Every flag ``--some-flag`` can also be set as ``CORRELATOR_SOME_FLAG``; a flag given
on the command line wins over the variable.
"""

import argparse
import os
import re
from collections.abc import Callable, Mapping

import orjson

from correlator.errors import SettingsError
from correlator.health import Health
from correlator.priority import PriorityMatrix
from correlator.settings import CoreSettings, Limits
from correlator.stream.settings import SECURITY_PROTOCOLS, Clock, WorkerSettings

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_LIMITS = Limits()
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def env_name(flag: str) -> str:
    return "CORRELATOR_" + _dest(flag).upper()


def _dest(flag: str) -> str:
    """The attribute argparse keeps a flag's value in: ``--batch-wait`` -> ``batch_wait``."""
    return flag.lstrip("-").replace("-", "_")


def env_default(flag: str, default: str) -> str:
    return os.environ.get(env_name(flag), default)


def duration(text: str) -> float:
    """``300``, ``300s``, ``5m``, ``1h`` or ``500ms`` as seconds."""
    found = _DURATION.match(text)
    if not found:
        msg = f"expected a duration such as 30s, 5m or 1h, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return float(found.group(1)) * _UNIT_SECONDS[found.group(2)]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"expected a whole number >= 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        msg = f"expected a number > 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def severity_map(text: str) -> Mapping[str, Health]:
    """``{"critical": "down", "warning": "degraded", "info": "ok"}``."""
    try:
        raw = orjson.loads(text)
        return {str(name): Health(value) for name, value in raw.items()}
    except (orjson.JSONDecodeError, AttributeError, ValueError):
        msg = (
            "expected a JSON object of severity to down/degraded/ok, "
            f'such as {{"critical": "down"}}, got {text!r}'
        )
        raise argparse.ArgumentTypeError(msg) from None


def priority_matrix(text: str) -> PriorityMatrix:
    """``{"1": {"down": "P1", "degraded": "P2"}, ...}``; cells not given keep their defaults."""
    try:
        return PriorityMatrix.from_mapping(orjson.loads(text))
    except orjson.JSONDecodeError as error:
        msg = f"priority matrix is not JSON: {error}"
        raise argparse.ArgumentTypeError(msg) from None
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


_CORE_OPTIONS: list[tuple[str, str, Callable[[str], object], str]] = [
    ("--window", "5m", duration, "related alerts starting within this form one incident"),
    ("--group-wait", "10s", duration, "the first impact of an incident waits this long"),
    ("--group-interval", "1m", duration, "updates changing only alerts wait this long"),
    ("--resolve-timeout", "5m", duration, "a firing alert not refreshed for this long resolves"),
    ("--flap-window", "10m", duration, "window in which state flips are counted"),
    ("--flap-threshold", "4", positive_int, "more flips than this in the flap window: flapping"),
    ("--severity-map", "{}", severity_map, "JSON: severity to down/degraded/ok, over the defaults"),
    ("--priority-matrix", "{}", priority_matrix, "JSON: criticality x status to P1..P4"),
    ("--max-body-bytes", str(_LIMITS.max_body_bytes), positive_int, "largest message"),
    ("--max-alerts-per-message", str(_LIMITS.max_alerts_per_message), positive_int, "most alerts"),
    ("--max-labels", str(_LIMITS.max_labels), positive_int, "most labels on one alert"),
    ("--max-label-bytes", str(_LIMITS.max_label_bytes), positive_int, "longest label name/value"),
]  # fmt: skip


def _checked_env(flag: str, parse: Callable[[str], object]) -> None:
    """A bad value in a variable is reported under the variable's name, not the flag's."""
    raw = os.environ.get(env_name(flag))
    if raw is None:
        return
    try:
        parse(raw)
    except argparse.ArgumentTypeError as error:
        msg = f"{env_name(flag)}: {error}"
        raise SettingsError(msg) from None


def add_core_options(parser: argparse.ArgumentParser) -> None:
    _add_options(
        parser, "correlation settings (each also read from CORRELATOR_<FLAG>)", _CORE_OPTIONS
    )


def _add_options(
    parser: argparse.ArgumentParser,
    title: str,
    options: list[tuple[str, str, Callable[[str], object], str]],
) -> None:
    group = parser.add_argument_group(title)
    for flag, default, parse, help_text in options:
        _checked_env(flag, parse)
        group.add_argument(
            flag,
            default=env_default(flag, default),
            type=parse,
            help=f"{help_text} (default {default})" if default else help_text,
        )


def core_settings(args: argparse.Namespace) -> CoreSettings:
    defaults = CoreSettings()
    return CoreSettings(
        limits=Limits(
            max_body_bytes=args.max_body_bytes,
            max_alerts_per_message=args.max_alerts_per_message,
            max_labels=args.max_labels,
            max_label_bytes=args.max_label_bytes,
        ),
        resolve_timeout=args.resolve_timeout,
        window=args.window,
        group_wait=args.group_wait,
        group_interval=args.group_interval,
        flap_window=args.flap_window,
        flap_threshold=args.flap_threshold,
        severity_health={**defaults.severity_health, **args.severity_map},
        priorities=args.priority_matrix,
    )


def clock(text: str) -> Clock:
    try:
        return Clock(text)
    except ValueError:
        msg = f"expected wall or event, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        msg = f"expected a port number up to 65535, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


_W = WorkerSettings(topology="")
"""The defaults."""
_WORKER_OPTIONS: list[tuple[str, str, Callable[[str], object], str]] = [
    ("--topology", "", str, "topology file (YAML or JSON)"),
    ("--broker", _W.broker, str, "Kafka URL(s): kafka://host:port, several joined by ;"),
    ("--app-id", _W.app_id, str, "consumer group, and prefix of the worker's own topics"),
    ("--partitions", str(_W.partitions), positive_int, "partitions of its own topics"),
    ("--replication", str(_W.replication), positive_int, "replication of topics it creates"),
    ("--raw-topic", _W.raw_topic, str, "topic alerts arrive on"),
    ("--raw-partitions", str(_W.raw_partitions), positive_int, "of edge topics it creates"),
    ("--impacts-topic", _W.impacts_topic, str, "topic impact events go to"),
    ("--deadletter-topic", _W.deadletter_topic, str, "topic rejected input goes to"),
    ("--clock", _W.clock.value, clock, "wall, or event: latest record time"),
    ("--tick-interval", "50ms", duration, "how often timers are checked on the wall clock"),
    ("--topology-check-interval", "5s", duration, "how often the topology file is checked"),
    ("--fetch-max-wait", "50ms", duration, "longest a fetch waits for records"),
    ("--batch-size", str(_W.batch_size), positive_int, "most records an agent takes at once"),
    ("--batch-wait", "20ms", duration, "longest an agent (and the producer) waits to batch"),
    ("--commit-interval", "500ms", duration, "how often processed offsets are committed"),
    ("--session-timeout", "10s", duration, "how long the group waits for a silent worker"),
    ("--web-port", str(_W.web_port), port, "port of /metrics"),
    ("--web-host", _W.web_host, str, "address the web server binds"),
    ("--data-dir", _W.data_dir, str, "where Faust keeps its local files"),
    ("--ingest-token", "", str, "bearer token HTTP ingest requires (prefer the variable)"),
    ("--security-protocol", _W.security_protocol, str, "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
    ("--sasl-mechanism", _W.sasl_mechanism, str, "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
    ("--sasl-username", "", str, "SASL user"),
    ("--sasl-password", "", str, "SASL password (prefer the variable; it is never printed)"),
    ("--ssl-cafile", "", str, "CA bundle that signed the brokers' certificates"),
    ("--ssl-certfile", "", str, "client certificate, for mutual TLS"),
    ("--ssl-keyfile", "", str, "client key, for mutual TLS"),
]  # fmt: skip


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    _add_options(parser, "worker settings (each also read from CORRELATOR_<FLAG>)", _WORKER_OPTIONS)


def worker_settings(args: argparse.Namespace) -> WorkerSettings:
    if not args.topology:
        msg = f"the worker needs --topology FILE (or {env_name('--topology')})"
        raise SettingsError(msg)
    if args.security_protocol.upper() not in SECURITY_PROTOCOLS:
        expected = ", ".join(sorted(SECURITY_PROTOCOLS))
        msg = f"--security-protocol: expected one of {expected}, got {args.security_protocol!r}"
        raise SettingsError(msg)
    for flag, example in (("--batch-wait", "20ms"), ("--commit-interval", "500ms")):
        value = getattr(args, _dest(flag))
        if value <= 0:
            msg = f"{flag}: expected a duration above 0, such as {example}, got {value}s"
            raise SettingsError(msg)
    return WorkerSettings(
        **{_dest(flag): getattr(args, _dest(flag)) for flag, *_ in _WORKER_OPTIONS}
    )  # fmt: skip
