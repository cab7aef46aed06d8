"""Our fingerprints equal a real Alertmanager's (recorded by tests/data/alertmanager/record.sh)."""

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from correlator.fingerprint import fingerprint

RECORDED = Path(__file__).parents[1] / "data" / "alertmanager" / "fingerprints.json"


def _recorded() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(RECORDED.read_text())
    return entries


@pytest.mark.parametrize("entry", _recorded(), ids=lambda e: e["labels"].get("alertname", "?"))
def test_fingerprint_equals_alertmanager(entry: dict[str, Any]) -> None:
    assert fingerprint(entry["labels"]) == entry["fingerprint"]
    # As posted (other key order, empty values still present) it hashes the same.
    for posted in entry.get("posted_labels", []):
        assert fingerprint(posted) == entry["fingerprint"]


def test_recording_covers_the_edge_cases() -> None:
    labels = [entry["labels"] for entry in _recorded()]
    assert len(labels) >= 20
    assert any(any(ord(c) > 127 for v in ls.values() for c in v) for ls in labels)  # non-ASCII
    assert any(len(ls) >= 20 for ls in labels)
    assert any(len(entry.get("posted_labels", [])) >= 2 for entry in _recorded())


label_sets = st.dictionaries(
    st.text(min_size=1, max_size=12), st.text(max_size=12), min_size=1, max_size=8
)


@given(label_sets)
def test_label_order_does_not_matter(labels: dict[str, str]) -> None:
    assert fingerprint(dict(reversed(list(labels.items())))) == fingerprint(labels)


@given(label_sets)
def test_empty_values_count_as_absent(labels: dict[str, str]) -> None:
    assert fingerprint({**labels, "\x01absent": ""}) == fingerprint(labels)


def test_separator_keeps_name_and_value_apart() -> None:
    assert fingerprint({"a": "bc"}) != fingerprint({"ab": "c"})
