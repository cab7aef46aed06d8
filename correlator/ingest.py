"""HTTP ingest, decided: is a request one the worker should put on ``alerts.raw``?

Alertmanager posts its webhook payload to ``/api/v1/alerts/alertmanager``; other
senders post the generic alert JSON to ``/api/v1/alerts``. A request is admitted
as one record, the body exactly as received, keyed by Alertmanager's
``groupKey`` (so a group's notifications stay in order on one partition). The
parse stage judges the alerts themselves and dead-letters what is wrong there;
here only what the sender must fix at once is refused, with the HTTP status it
expects: 401 without the right bearer token, 413 for a body over the limit, 415
for a body that is not JSON, 400 for JSON that does not parse or is not the
shape of the endpoint.
"""

import hmac
from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple

import orjson


class Endpoint(StrEnum):
    ALERTMANAGER = "alertmanager"
    GENERIC = "generic"


class Admitted(NamedTuple):
    key: bytes | None
    value: bytes


class Refused(NamedTuple):
    status: int
    error: str


def authorized(authorization: str | None, token: str) -> bool:
    """With a token set, ``Authorization: Bearer <token>`` and nothing else gets in."""
    if not token:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def admit(
    endpoint: Endpoint, headers: Mapping[str, str], body: bytes, max_bytes: int
) -> Admitted | Refused:
    """Check a request that passed ``authorized``; ``headers`` with lower-case names."""
    if len(body) > max_bytes:
        return Refused(413, f"body of {len(body)} bytes is over the limit of {max_bytes}")
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        shown = media_type or "none"
        return Refused(415, f"content type must be application/json, got {shown}")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        return Refused(400, f"invalid JSON: {error}")
    if endpoint is Endpoint.ALERTMANAGER:
        return _alertmanager(document, body)
    if not isinstance(document, dict | list):
        return Refused(400, "expected a generic alert object or a list of them")
    return Admitted(None, body)


def _alertmanager(document: object, body: bytes) -> Admitted | Refused:
    if not isinstance(document, dict) or not isinstance(document.get("alerts"), list):
        return Refused(400, "not an Alertmanager webhook payload: no list of alerts")
    group_key = document.get("groupKey")
    key = group_key.encode() if isinstance(group_key, str) and group_key else None
    return Admitted(key, body)
