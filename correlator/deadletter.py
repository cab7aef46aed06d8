"""The dead-letter record: what was rejected, why, from where, and the bytes themselves."""

import base64
from collections.abc import Mapping

import orjson

from correlator.parse import Rejection
from correlator.timestamps import format_timestamp


def dead_letter(
    rejection: Rejection,
    body: bytes,
    received_at: float | None,
    source: Mapping[str, object],
    max_raw_bytes: int,
) -> dict[str, object]:
    """Build ``{reason, error, received_at, source, raw}`` for one rejection.

    ``received_at`` is None only where no time is known (a replay line before any).
    ``raw`` is the rejected alert when one alert of a payload was bad, else the
    whole body; cut to ``max_raw_bytes``, and base64 when it is not UTF-8
    (``raw_encoding`` says which, ``raw_bytes`` the size before the cut).
    """
    raw = body if rejection.fragment is None else orjson.dumps(rejection.fragment)
    kept = raw[:max_raw_bytes]
    text, encoding = _as_text(kept, truncated=len(raw) > max_raw_bytes)
    return {
        "reason": str(rejection.reason),
        "error": rejection.error,
        "received_at": format_timestamp(received_at) if received_at is not None else None,
        "source": dict(source),
        "raw": text,
        "raw_encoding": encoding,
        "raw_bytes": len(raw),
        "raw_truncated": len(raw) > max_raw_bytes,
    }


def _as_text(data: bytes, *, truncated: bool) -> tuple[str, str]:
    try:
        return data.decode(), "utf-8"
    except UnicodeDecodeError as error:
        # The cut may split the last character of otherwise good UTF-8: drop that part.
        if truncated and error.start >= len(data) - 3 and error.reason == "unexpected end of data":
            return data[: error.start].decode(), "utf-8"
        return base64.b64encode(data).decode("ascii"), "base64"
