"""What HTTP ingest lets through, and what it tells a sender to fix."""

import orjson
import pytest
from support import generic, webhook

from correlator.ingest import Admitted, Endpoint, Refused, admit, authorized

JSON = {"content-type": "application/json; charset=utf-8"}
LIMIT = 1024


def test_alertmanager_payload_is_admitted_as_sent_keyed_by_its_group_key() -> None:
    payload = webhook(generic("RedisDown", service="redis-cart")) | {"groupKey": '{}:{a="b"}'}
    body = orjson.dumps(payload)
    assert admit(Endpoint.ALERTMANAGER, JSON, body, LIMIT) == Admitted(b'{}:{a="b"}', body)


def test_generic_alert_or_list_is_admitted_unkeyed() -> None:
    for document in (generic("Down", service="x"), [generic("Down", service="x")]):
        body = orjson.dumps(document)
        assert admit(Endpoint.GENERIC, JSON, body, LIMIT) == Admitted(None, body)


@pytest.mark.parametrize(
    ("endpoint", "headers", "body", "status", "says"),
    [
        (Endpoint.GENERIC, JSON, b"x" * (LIMIT + 1), 413, "over the limit of 1024"),
        (Endpoint.GENERIC, {"content-type": "text/plain"}, b"{}", 415, "got text/plain"),
        (Endpoint.GENERIC, {}, b"{}", 415, "got none"),
        (Endpoint.GENERIC, JSON, b'{"labels": ', 400, "invalid JSON"),
        (Endpoint.GENERIC, JSON, b'"just a string"', 400, "generic alert object"),
        (Endpoint.ALERTMANAGER, JSON, b'{"status": "firing"}', 400, "no list of alerts"),
        (Endpoint.ALERTMANAGER, JSON, b"[]", 400, "not an Alertmanager webhook payload"),
    ],
)
def test_refusals_say_what_to_fix(
    endpoint: Endpoint, headers: dict[str, str], body: bytes, status: int, says: str
) -> None:
    refused = admit(endpoint, headers, body, LIMIT)
    assert isinstance(refused, Refused)
    assert refused.status == status
    assert says in refused.error


def test_the_bearer_token_when_one_is_set() -> None:
    assert authorized(None, "")
    assert authorized("Bearer anything", "")
    assert authorized("Bearer s3cret", "s3cret")
    assert authorized("bearer s3cret", "s3cret")
    assert not authorized(None, "s3cret")
    assert not authorized("Bearer s3cre", "s3cret")
    assert not authorized("Basic s3cret", "s3cret")
    assert not authorized("s3cret", "s3cret")
