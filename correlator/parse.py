"""Raw message bodies into normalized alerts and rejections.

Accepted shapes (one message, i.e. one Kafka record or one replay line):

* an Alertmanager webhook payload (``"version": "4"``, many alerts, firing and
  resolved, ``endsAt`` of ``0001-01-01T00:00:00Z`` while firing);
* a generic alert: ``{"labels": {"alertname": ..., ...}}`` (at least one label
  with a non-empty value, as Alertmanager requires) with optional
  ``status`` (``firing``/``resolved``), ``startsAt``, ``endsAt``, ``annotations``,
  ``generatorURL``;
* a JSON list of either.

Parsing never raises on bad input: the result holds the good alerts and a
rejection (reason + where + what came) for every bad part. One bad alert in a
payload rejects that alert only, so nothing valid is dropped for a bad neighbour.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

import orjson

from correlator.alert import Alert
from correlator.fingerprint import fingerprint
from correlator.settings import Limits
from correlator.timestamps import ALERTMANAGER_UNSET, TimestampError, parse_timestamp

ALERTMANAGER = "alertmanager"
GENERIC = "generic"

_LABEL_CACHE_SIZE = 1 << 16


class RejectReason(StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    INVALID_JSON = "invalid_json"
    UNKNOWN_FORMAT = "unknown_format"
    UNSUPPORTED_VERSION = "unsupported_version"
    TOO_MANY_ALERTS = "too_many_alerts"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    BAD_VALUE = "bad_value"
    BAD_TIMESTAMP = "bad_timestamp"
    LABEL_TOO_LARGE = "label_too_large"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectReason
    error: str
    """Where (a path into the message such as ``alerts[3].labels.severity``) and what was wrong."""
    fragment: object = None
    """The rejected part when it is not the whole message (one alert of a payload)."""


@dataclass(slots=True)
class Parsed:
    alerts: list[Alert] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


class _Invalid(Exception):
    def __init__(self, reason: RejectReason, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error


class AlertParser:
    """Parses message bodies within ``limits``; remembers label sets it has already checked."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._checked_fingerprint: Callable[[tuple[tuple[str, str], ...]], str] = lru_cache(
            maxsize=_LABEL_CACHE_SIZE
        )(self._check_labels)

    def parse_body(self, body: bytes, received_at: float | None) -> Parsed:
        """Parse one raw message; ``received_at`` None means "use the alerts' own times"."""
        document = self.decode(body)
        if isinstance(document, Rejection):
            return Parsed(rejections=[document])
        return self.parse_document(document, received_at)

    def decode(self, body: bytes) -> object:
        """The JSON value of a body, or the ``Rejection`` saying why there is none."""
        if not body.strip():
            return Rejection(RejectReason.EMPTY, "empty message")
        if len(body) > self.limits.max_body_bytes:
            return Rejection(
                RejectReason.TOO_LARGE,
                f"message of {len(body)} bytes exceeds max_body_bytes={self.limits.max_body_bytes}",
            )
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            reason = RejectReason.NOT_UTF8 if "UTF-8" in str(error) else RejectReason.INVALID_JSON
            # A one-line body (a replay line, most Kafka records): its line says nothing.
            where = f"column {error.colno}"
            if b"\n" in body.strip():
                where = f"line {error.lineno}, {where}"
            return Rejection(reason, f"not valid JSON at {where}: {error.msg}")

    def parse_document(self, document: object, received_at: float | None) -> Parsed:
        """Parse an already decoded JSON value (a replay envelope's ``value``)."""
        parsed = Parsed()
        if isinstance(document, list):
            count = sum(_alert_count(item) for item in document)
            if count > self.limits.max_alerts_per_message:
                error = (
                    f"{count} alerts in one message exceed max_alerts_per_message="
                    f"{self.limits.max_alerts_per_message}"
                )
                return Parsed(rejections=[Rejection(RejectReason.TOO_MANY_ALERTS, error)])
            for index, item in enumerate(document):
                self._parse_one(item, f"[{index}]", received_at, parsed)
        else:
            self._parse_one(document, "", received_at, parsed)
        return parsed

    def _parse_one(
        self, document: object, where: str, received_at: float | None, out: Parsed
    ) -> None:
        if isinstance(document, dict) and "alerts" in document:
            self._parse_webhook(document, where, received_at, out)
        elif isinstance(document, dict) and "labels" in document:
            self._parse_alert(document, where or "alert", received_at, GENERIC, out)
        else:
            shape = type(document).__name__
            out.rejections.append(
                Rejection(
                    RejectReason.UNKNOWN_FORMAT,
                    f"{where or 'message'}: expected an Alertmanager webhook payload (with "
                    f"'alerts'), a generic alert (with 'labels') or a list of them, got {shape}",
                    document if where else None,
                )
            )

    def _parse_webhook(
        self, payload: dict[str, object], where: str, received_at: float | None, out: Parsed
    ) -> None:
        version = payload.get("version")
        alerts = payload["alerts"]
        if version != "4":
            problem = (
                RejectReason.UNSUPPORTED_VERSION,
                f"{where}version: expected '4', got {version!r}",
            )
        elif not isinstance(alerts, list):
            problem = (
                RejectReason.WRONG_TYPE,
                f"{where}alerts: expected a list, got {type(alerts).__name__}",
            )
        elif len(alerts) > self.limits.max_alerts_per_message:
            problem = (
                RejectReason.TOO_MANY_ALERTS,
                f"{where}alerts: {len(alerts)} alerts exceed max_alerts_per_message="
                f"{self.limits.max_alerts_per_message}",
            )
        else:
            for index, alert in enumerate(alerts):
                self._parse_alert(alert, (where, index), received_at, ALERTMANAGER, out)
            return
        out.rejections.append(Rejection(*problem, payload if where else None))

    def _parse_alert(
        self,
        raw: object,
        where: str | tuple[str, int],
        received_at: float | None,
        source_format: str,
        out: Parsed,
    ) -> None:
        """``where`` names the alert in errors; ``(payload where, index)`` for an alert of a
        payload, spelt out only when it is rejected (most alerts are not)."""
        try:
            out.alerts.append(self._alert(raw, received_at, source_format))
        except _Invalid as invalid:
            if isinstance(where, tuple):
                where = f"{where[0]}alerts[{where[1]}]"
            out.rejections.append(Rejection(invalid.reason, where + invalid.error, raw))

    def _alert(self, raw: object, received_at: float | None, source_format: str) -> Alert:
        """Errors raised here say where in the alert, after its own name (``.labels: ...``)."""
        if not isinstance(raw, dict):
            raise _Invalid(
                RejectReason.WRONG_TYPE, f": expected an object, got {type(raw).__name__}"
            )
        labels = raw.get("labels")
        if not isinstance(labels, dict):
            raise _missing_or_wrong(raw, "labels", "an object of strings")
        items = tuple(labels.items())
        try:
            fingerprint_ = self._checked_fingerprint(items)
        except TypeError:
            fingerprint_ = self._check_labels(items)
        annotations = _string_map(raw.get("annotations", {}), "annotations")
        starts_at = _time(raw, "startsAt", required=received_at is None)
        ends_at = _time(raw, "endsAt", required=False)
        firing = _firing(raw, source_format, ends_at, received_at or starts_at)
        if starts_at is None:
            starts_at = received_at if received_at is not None else 0.0
        if received_at is None:
            received_at = ends_at if not firing and ends_at is not None else starts_at
        generator_url = raw.get("generatorURL", "")
        return Alert(
            fingerprint=fingerprint_,
            labels=labels,
            annotations=annotations,
            firing=firing,
            starts_at=starts_at,
            ends_at=ends_at if not firing else None,
            received_at=received_at,
            generator_url=generator_url if isinstance(generator_url, str) else "",
            source_format=source_format,
        )

    def _check_labels(self, items: tuple[tuple[str, str], ...]) -> str:
        if len(items) > self.limits.max_labels:
            raise _Invalid(
                RejectReason.LABEL_TOO_LARGE,
                f".labels: {len(items)} labels exceed max_labels={self.limits.max_labels}",
            )
        for name, value in items:
            if not isinstance(value, str):
                raise _Invalid(
                    RejectReason.WRONG_TYPE,
                    f".labels.{name}: expected a string, got {type(value).__name__}",
                )
            if len(name.encode()) > self.limits.max_label_bytes or (
                len(value.encode()) > self.limits.max_label_bytes
            ):
                raise _Invalid(
                    RejectReason.LABEL_TOO_LARGE,
                    f".labels.{name[:64]}: longer than max_label_bytes="
                    f"{self.limits.max_label_bytes}",
                )
        labels = dict(items)
        if not any(labels.values()):
            raise _Invalid(
                RejectReason.MISSING_FIELD,
                ".labels: at least one label with a non-empty value is required",
            )
        return fingerprint(labels)


def _alert_count(item: object) -> int:
    if isinstance(item, dict) and isinstance(item.get("alerts"), list):
        return len(item["alerts"])
    return 1


def _missing_or_wrong(raw: Mapping[str, object], key: str, expected: str) -> _Invalid:
    if key not in raw:
        return _Invalid(RejectReason.MISSING_FIELD, f".{key}: missing")
    return _Invalid(
        RejectReason.WRONG_TYPE,
        f".{key}: expected {expected}, got {type(raw[key]).__name__}",
    )


def _string_map(value: object, key: str) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise _Invalid(
            RejectReason.WRONG_TYPE,
            f".{key}: expected an object of strings, got {type(value).__name__}",
        )
    for name, item in value.items():
        if not isinstance(item, str):
            raise _Invalid(
                RejectReason.WRONG_TYPE,
                f".{key}.{name}: expected a string, got {type(item).__name__}",
            )
    return value


def _time(raw: Mapping[str, object], key: str, *, required: bool) -> float | None:
    value = raw.get(key)
    if value is None or value == ALERTMANAGER_UNSET or value == "":
        if required:
            raise _Invalid(
                RejectReason.MISSING_FIELD,
                f".{key}: missing (needed to place the alert in time without an envelope)",
            )
        return None
    try:
        return _instant(value) if isinstance(value, str) else parse_timestamp(value)
    except TimestampError as error:
        raise _Invalid(RejectReason.BAD_TIMESTAMP, f".{key}: {error}") from None


@lru_cache(maxsize=_LABEL_CACHE_SIZE)
def _instant(text: str) -> float:
    """Memoised: Alertmanager repeats every firing alert, and with it its ``startsAt`` text."""
    return parse_timestamp(text)


def _firing(
    raw: Mapping[str, object],
    source_format: str,
    ends_at: float | None,
    reference: float | None,
) -> bool:
    """``reference`` is when the alert is judged: its arrival, else its own start."""
    status = raw.get("status")
    if status == "firing":
        return True
    if status == "resolved":
        return False
    if status is None and source_format == GENERIC:
        # Generic senders may omit status: an end in the past means resolved.
        return ends_at is None or reference is None or ends_at > reference
    if status is None:
        raise _Invalid(RejectReason.MISSING_FIELD, ".status: missing")
    raise _Invalid(
        RejectReason.BAD_VALUE, f".status: expected 'firing' or 'resolved', got {status!r}"
    )
