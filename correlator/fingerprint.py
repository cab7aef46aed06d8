"""Alertmanager's alert fingerprint, bit for bit.

Alertmanager identifies an alert by ``model.LabelSet.Fingerprint()`` of
prometheus/common: FNV-1a 64 over the label names in sorted (byte) order, each name
followed by the separator byte 0xff, its value and 0xff again, printed as 16 hex
digits. An empty value means the label is absent (Prometheus semantics; Alertmanager
drops such labels on receipt), so it is left out. The sender's own ``fingerprint``
field is never trusted: this is recomputed from the labels.
"""

from collections.abc import Mapping

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF
_SEPARATOR = b"\xff"


def fingerprint(labels: Mapping[str, str]) -> str:
    digest = _FNV_OFFSET
    for name in sorted(labels):
        value = labels[name]
        if not value:
            continue
        for byte in b"".join((name.encode(), _SEPARATOR, value.encode(), _SEPARATOR)):
            digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"
