"""Parsing: every accepted shape, every kind of bad input, and nothing valid lost."""

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import T0, generic, webhook

from correlator.fingerprint import fingerprint
from correlator.parse import AlertParser, RejectReason
from correlator.settings import Limits

PAYLOADS = Path(__file__).parents[1] / "data" / "alertmanager" / "webhook_payloads.jsonl"


def parser(**limits: int) -> AlertParser:
    return AlertParser(Limits(**limits))


def test_real_alertmanager_payloads_parse_completely() -> None:
    for line in PAYLOADS.read_bytes().splitlines():
        payload = json.loads(line)
        parsed = parser().parse_body(line, T0)
        assert parsed.rejections == []
        assert len(parsed.alerts) == len(payload["alerts"])
        for alert, raw in zip(parsed.alerts, payload["alerts"], strict=True):
            assert alert.fingerprint == raw["fingerprint"]
            assert alert.firing == (raw["status"] == "firing")
            assert alert.source_format == "alertmanager"
            # Firing alerts arrive with Alertmanager's zero time: no end.
            assert (alert.ends_at is None) == alert.firing


def test_payload_statuses_seen_in_the_recording() -> None:
    statuses = {json.loads(line)["status"] for line in PAYLOADS.read_bytes().splitlines()}
    assert statuses == {"firing", "resolved"}


def test_generic_alert_minimal_fields() -> None:
    body = orjson.dumps({"labels": {"alertname": "Down", "service": "x"}})
    [alert] = parser().parse_body(body, T0).alerts
    assert alert.firing
    assert alert.starts_at == T0  # no startsAt: arrival time
    assert alert.name == "Down"
    assert alert.source_format == "generic"


def test_generic_alert_with_past_end_is_resolved() -> None:
    body = orjson.dumps({"labels": {"alertname": "Down"}, "endsAt": T0 - 10})
    [alert] = parser().parse_body(body, T0).alerts
    assert not alert.firing


def test_list_of_mixed_shapes() -> None:
    body = orjson.dumps([generic("A"), webhook(generic("B"), generic("C")), 7])
    parsed = parser().parse_body(body, T0)
    assert [a.name for a in parsed.alerts] == ["A", "B", "C"]
    [rejection] = parsed.rejections
    assert rejection.reason is RejectReason.UNKNOWN_FORMAT
    assert "[2]" in rejection.error


def test_without_arrival_time_the_alerts_own_time_is_used() -> None:
    resolved = generic("A", at=T0, status="resolved", ends=T0 + 60)
    alerts = parser().parse_body(orjson.dumps([generic("B", at=T0 + 5), resolved]), None).alerts
    assert [a.received_at for a in alerts] == [T0 + 5, T0 + 60]


def test_fingerprint_is_recomputed_not_trusted() -> None:
    payload = webhook(generic("A", service="x"))
    payload["alerts"][0]["fingerprint"] = "ffffffffffffffff"
    [alert] = parser().parse_body(orjson.dumps(payload), T0).alerts
    assert alert.fingerprint == fingerprint(payload["alerts"][0]["labels"])


def test_bad_alert_does_not_drop_its_neighbours() -> None:
    bad = generic("Bad")
    bad["labels"]["severity"] = 3
    payload = webhook(generic("A"), generic("B"))
    payload["alerts"].insert(1, {**payload["alerts"][0], "labels": bad["labels"]})
    parsed = parser().parse_body(orjson.dumps(payload), T0)
    assert [a.name for a in parsed.alerts] == ["A", "B"]
    [rejection] = parsed.rejections
    assert rejection.reason is RejectReason.WRONG_TYPE
    assert rejection.error == "alerts[1].labels.severity: expected a string, got int"
    assert rejection.fragment == payload["alerts"][1]


def _with(document: dict[str, Any], **changes: Any) -> bytes:
    return orjson.dumps({**document, **changes})


BAD_BODIES = [
    # (body, reason, words the error must contain)
    (b"", RejectReason.EMPTY, "empty"),
    (b"   \n", RejectReason.EMPTY, "empty"),
    (b'{"labels": {"alertname": "A"', RejectReason.INVALID_JSON, "not valid JSON at column 29"),
    (b'{\n  "labels": {"alertname": "A"', RejectReason.INVALID_JSON, "at line 2, column 30"),
    (b'{"labels": {"alertname": "\xff\xfe"}}', RejectReason.NOT_UTF8, "UTF-8"),
    (b"[" * 5000 + b"]" * 5000, RejectReason.INVALID_JSON, "depth"),
    (b'"just a string"', RejectReason.UNKNOWN_FORMAT, "got str"),
    (b"{}", RejectReason.UNKNOWN_FORMAT, "got dict"),
    (_with(webhook(generic("A")), version="3"), RejectReason.UNSUPPORTED_VERSION, "'4'"),
    (_with(webhook(), alerts={"a": 1}), RejectReason.WRONG_TYPE, "alerts: expected a list"),
    (orjson.dumps({"labels": {}}), RejectReason.MISSING_FIELD, "at least one label"),
    (orjson.dumps({"labels": {"a": ""}}), RejectReason.MISSING_FIELD, "at least one label"),
    (orjson.dumps({"labels": ["alertname"]}), RejectReason.WRONG_TYPE, "labels: expected"),
    (orjson.dumps({"labels": {"alertname": None}}), RejectReason.WRONG_TYPE, "got NoneType"),
    (orjson.dumps({"labels": {"alertname": {"x": 1}}}), RejectReason.WRONG_TYPE, "got dict"),
    (_with(generic("A"), startsAt="yesterday"), RejectReason.BAD_TIMESTAMP, "startsAt"),
    (_with(generic("A"), startsAt="1970-01-01T00:00:00Z"), RejectReason.BAD_TIMESTAMP, "range"),
    (_with(generic("A"), startsAt="9999-12-31T00:00:00Z"), RejectReason.BAD_TIMESTAMP, "range"),
    (_with(generic("A"), startsAt="2026-11-20T14:00:00"), RejectReason.BAD_TIMESTAMP, "offset"),
    (_with(generic("A"), startsAt=1e300), RejectReason.BAD_TIMESTAMP, "range"),
    (_with(generic("A"), status="pending"), RejectReason.BAD_VALUE, "'firing' or 'resolved'"),
    (_with(generic("A"), annotations={"summary": 1}), RejectReason.WRONG_TYPE, "annotations"),
    (orjson.dumps(webhook({**generic("A"), "status": "firing"}) | {"alerts": [5]}),
     RejectReason.WRONG_TYPE, "alerts[0]: expected an object"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "reason", "words"), BAD_BODIES)
def test_bad_input_is_rejected_with_a_reason(body: bytes, reason: RejectReason, words: str) -> None:
    parsed = parser().parse_body(body, T0)
    assert parsed.alerts == []
    [rejection] = parsed.rejections
    assert rejection.reason is reason
    assert words in rejection.error


def test_webhook_alert_without_status_is_rejected() -> None:
    payload = webhook(generic("A"))
    del payload["alerts"][0]["status"]
    [rejection] = parser().parse_body(orjson.dumps(payload), T0).rejections
    assert (rejection.reason, rejection.error) == (
        RejectReason.MISSING_FIELD,
        "alerts[0].status: missing",
    )


def test_without_envelope_a_start_time_is_required() -> None:
    [rejection] = parser().parse_body(b'{"labels": {"alertname": "A"}}', None).rejections
    assert rejection.reason is RejectReason.MISSING_FIELD
    assert "startsAt" in rejection.error


@pytest.mark.parametrize(
    ("limits", "body", "reason"),
    [
        ({"max_body_bytes": 100}, orjson.dumps(generic("A", description="x" * 200)),
         RejectReason.TOO_LARGE),
        ({"max_alerts_per_message": 2}, orjson.dumps(webhook(*[generic("A")] * 3)),
         RejectReason.TOO_MANY_ALERTS),
        ({"max_labels": 3}, orjson.dumps(generic("A", a="1", b="2")), RejectReason.LABEL_TOO_LARGE),
        ({"max_label_bytes": 8}, orjson.dumps(generic("A", a="x" * 9)),
         RejectReason.LABEL_TOO_LARGE),
    ],
    ids=["body", "alerts", "label-count", "label-size"],
)  # fmt: skip
def test_bounds_are_settings(limits: dict[str, int], body: bytes, reason: RejectReason) -> None:
    assert parser().parse_body(body, T0).rejections == []
    [rejection] = parser(**limits).parse_body(body, T0).rejections
    assert rejection.reason is reason


def test_a_message_of_100000_alerts_is_accepted_by_default() -> None:
    alerts = [generic("Storm", pod=f"p-{i}") for i in range(100_000)]
    parsed = parser().parse_body(orjson.dumps(webhook(*alerts)), T0)
    assert (len(parsed.alerts), parsed.rejections) == (100_000, [])
    assert len({a.fingerprint for a in parsed.alerts}) == 100_000


def test_a_body_over_the_bound_is_rejected_without_parsing() -> None:
    huge = b'{"labels": {"alertname": "' + b"x" * (64 * 1024 * 1024) + b'"}}'
    [rejection] = parser().parse_body(huge, T0).rejections
    assert rejection.reason is RejectReason.TOO_LARGE


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(["labels", "alerts", "status", "startsAt", "endsAt", "version",
                         "alertname", "annotations", "x"]),
        inner,
        max_size=5,
    ),
    max_leaves=25,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_random_documents_never_raise(document: object) -> None:
    parsed = parser().parse_document(document, T0)
    for alert in parsed.alerts:
        assert alert.labels and all(isinstance(v, str) for v in alert.labels.values())
    for rejection in parsed.rejections:
        assert rejection.error


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise(body: bytes) -> None:
    parsed = parser().parse_body(body, T0)
    if not parsed.alerts and not parsed.rejections:
        assert orjson.loads(body) == []  # only an empty list says nothing


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=12))
def test_every_valid_alert_survives_bad_neighbours(validity: list[bool]) -> None:
    items: list[object] = [
        generic("Good", pod=str(i)) if ok else {"labels": {"alertname": i}}
        for i, ok in enumerate(validity)
    ]
    parsed = parser().parse_document(items, T0)
    assert len(parsed.alerts) == sum(validity)
    assert len(parsed.rejections) == len(validity) - sum(validity)


def test_prometheus_style_firing_alert_without_envelope_is_firing() -> None:
    """Prometheus pushes firing alerts with endsAt in the future and no status."""
    body = orjson.dumps({"labels": {"alertname": "DbDown"}, "startsAt": T0, "endsAt": T0 + 240})
    [alert] = parser().parse_body(body, None).alerts
    assert alert.firing


def test_the_alert_bound_covers_a_whole_list_message() -> None:
    body = orjson.dumps([generic("A"), webhook(generic("B"), generic("C"))])
    [rejection] = parser(max_alerts_per_message=2).parse_body(body, T0).rejections
    assert rejection.reason is RejectReason.TOO_MANY_ALERTS
    assert "3 alerts" in rejection.error
