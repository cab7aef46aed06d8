"""How the worker's settings reach the broker: servers and credentials."""

import ssl
from pathlib import Path

import faust
import pytest

from correlator.stream.connection import bootstrap_servers, credentials
from correlator.stream.settings import WorkerSettings

CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


def settings(**values: str) -> WorkerSettings:
    return WorkerSettings(topology="t.yaml", **values)  # type: ignore[arg-type]


def test_several_brokers_by_semicolon_or_comma_default_port_9092() -> None:
    expected = ["a:9092", "b:9093"]
    assert bootstrap_servers(settings(broker="kafka://a;kafka://b:9093")) == expected
    assert bootstrap_servers(settings(broker="kafka://a,b:9093")) == expected


def test_plaintext_needs_no_credentials() -> None:
    assert credentials(settings()) is None


def test_sasl_over_tls_carries_user_mechanism_and_a_verifying_context() -> None:
    if not CA.exists():
        pytest.skip(f"no CA bundle at {CA} to build a TLS context from")
    found = credentials(
        settings(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="correlator",
            sasl_password="s3cret",
            ssl_cafile=str(CA),
        )
    )
    assert isinstance(found, faust.SASLCredentials)
    assert (found.username, found.password) == ("correlator", "s3cret")
    assert found.mechanism.value == "SCRAM-SHA-512"
    assert found.protocol.value == "SASL_SSL"
    assert found.ssl_context is not None
    assert found.ssl_context.verify_mode is ssl.CERT_REQUIRED


def test_sasl_without_tls_is_sasl_plaintext() -> None:
    found = credentials(settings(security_protocol="SASL_PLAINTEXT", sasl_username="u"))
    assert isinstance(found, faust.SASLCredentials)
    assert found.protocol.value == "SASL_PLAINTEXT"


def test_tls_only() -> None:
    found = credentials(settings(security_protocol="SSL"))
    assert isinstance(found, faust.SSLCredentials)
    assert found.context.verify_mode is ssl.CERT_REQUIRED


def test_the_password_and_token_are_never_printed() -> None:
    shown = "\n".join(settings(sasl_password="s3cret", ingest_token="t0ken").describe())
    assert "s3cret" not in shown
    assert "t0ken" not in shown
    assert "sasl_password = *****" in shown
    assert "ingest_token = *****" in shown
