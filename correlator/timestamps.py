"""Timestamps as float seconds since the Unix epoch (UTC), parsed from RFC 3339 or numbers.

The core keeps every instant as a float: cheap to compare, to store in state and to
serialise, and the same unit the simulated and the wall clock both speak.
"""

from datetime import UTC, datetime
from functools import lru_cache

ALERTMANAGER_UNSET = "0001-01-01T00:00:00Z"
"""Alertmanager's zero ``time.Time``: what it sends as ``endsAt`` of a firing alert."""

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(2200, 1, 1, tzinfo=UTC).timestamp()


class TimestampError(ValueError):
    """A value is not a usable timestamp; the message says what came."""


def parse_timestamp(value: object) -> float:
    """Read an RFC 3339 string (with offset) or epoch seconds; refuse absurd instants."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        msg = f"expected an RFC 3339 string or epoch seconds, got {type(value).__name__}"
        raise TimestampError(msg)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            msg = f"not an RFC 3339 timestamp: {value[:64]!r}"
            raise TimestampError(msg) from None
        if parsed.tzinfo is None:
            msg = f"timestamp without a UTC offset: {value[:64]!r} (append Z or +00:00)"
            raise TimestampError(msg)
        seconds = parsed.timestamp()
    else:
        seconds = float(value)
    if not EARLIEST <= seconds < LATEST:
        msg = f"timestamp out of range (2000..2200): {value!r}"
        raise TimestampError(msg)
    return seconds


@lru_cache(maxsize=1 << 16)
def format_timestamp(seconds: float) -> str:
    """RFC 3339 in UTC with millisecond precision, the form every event carries.

    Memoised: an incident's events repeat the same alert start times many times.
    """
    instant = datetime.fromtimestamp(seconds, tz=UTC)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")
