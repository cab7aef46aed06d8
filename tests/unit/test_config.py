"""Worker settings from flags and ``CORRELATOR_*`` variables, as ``correlator worker`` sees them."""

import argparse
import os

import pytest
from support import shop

from correlator.config import add_worker_options, worker_settings
from correlator.errors import SettingsError
from correlator.settings import CoreSettings
from correlator.stream.app import Worker
from correlator.stream.settings import Clock, WorkerSettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CORRELATOR_"):
            monkeypatch.delenv(name)


def settings(*argv: str) -> WorkerSettings:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_worker_options(parser)
    return worker_settings(parser.parse_args(argv))


def test_defaults_need_only_a_topology() -> None:
    found = settings("--topology", "shop.yaml")

    assert found == WorkerSettings(topology="shop.yaml")
    assert (found.partitions, found.fetch_max_wait, found.clock) == (8, 0.05, Clock.WALL)


def test_variables_set_settings_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRELATOR_TOPOLOGY", "shop.yaml")
    monkeypatch.setenv("CORRELATOR_PARTITIONS", "6")
    monkeypatch.setenv("CORRELATOR_SESSION_TIMEOUT", "3s")
    monkeypatch.setenv("CORRELATOR_CLOCK", "event")
    monkeypatch.setenv("CORRELATOR_APP_ID", "from-env")

    found = settings("--app-id", "from-flag", "--fetch-max-wait", "20ms")

    assert found.topology == "shop.yaml"
    assert found.partitions == 6
    assert found.session_timeout == 3.0
    assert found.clock is Clock.EVENT
    assert found.app_id == "from-flag"
    assert found.fetch_max_wait == pytest.approx(0.02)


def test_without_a_topology_the_worker_says_how_to_give_one() -> None:
    with pytest.raises(SettingsError, match=r"--topology FILE \(or CORRELATOR_TOPOLOGY\)"):
        settings()


def test_a_batch_wait_of_zero_is_refused_as_it_would_hold_records_until_a_batch_fills() -> None:
    with pytest.raises(SettingsError, match=r"--batch-wait: expected a duration above 0"):
        settings("--topology", "t.yaml", "--batch-wait", "0ms")

    assert settings("--topology", "t.yaml", "--batch-wait", "30ms").batch_wait == 0.03


def test_the_commit_interval_reaches_faust_and_zero_is_refused() -> None:
    chosen = settings("--topology", "t.yaml", "--commit-interval", "100ms")
    assert Worker(chosen, shop(), CoreSettings()).app.conf.broker_commit_interval == 0.1
    default = settings("--topology", "t.yaml")
    assert Worker(default, shop(), CoreSettings()).app.conf.broker_commit_interval == 0.5

    with pytest.raises(SettingsError, match=r"--commit-interval: expected a duration above 0"):
        settings("--topology", "t.yaml", "--commit-interval", "0s")


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "sasl_ssl"])
def test_known_security_protocols_are_accepted_in_any_case(protocol: str) -> None:
    assert settings("--topology", "t.yaml", "--security-protocol", protocol).security_protocol


@pytest.mark.parametrize("protocol", ["TLS", "SASL", ""])
def test_an_unknown_security_protocol_is_refused_with_the_choices(protocol: str) -> None:
    with pytest.raises(SettingsError) as refused:
        settings("--topology", "t.yaml", "--security-protocol", protocol)

    assert str(refused.value) == (
        "--security-protocol: expected one of PLAINTEXT, SASL_PLAINTEXT, SASL_SSL, SSL, "
        f"got {protocol!r}"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CORRELATOR_PARTITIONS", "zero", "expected a whole number >= 1, got 'zero'"),
        ("CORRELATOR_PARTITIONS", "0", "expected a whole number >= 1, got '0'"),
        ("CORRELATOR_WEB_PORT", "70000", "expected a port number up to 65535, got '70000'"),
        ("CORRELATOR_CLOCK", "stream", "expected wall or event, got 'stream'"),
        ("CORRELATOR_FETCH_MAX_WAIT", "fast", "expected a duration such as 30s, 5m or 1h"),
    ],
)
def test_a_bad_variable_is_reported_under_its_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as refused:
        settings("--topology", "t.yaml")

    assert str(refused.value).startswith(f"{variable}: {expected}")


def test_the_settings_printed_at_start_mask_the_password() -> None:
    found = settings("--topology", "t.yaml", "--sasl-username", "me", "--sasl-password", "hunter2")

    lines = found.describe()

    assert "sasl_password = *****" in lines
    assert "sasl_username = me" in lines
    assert not any("hunter2" in line for line in lines)
    assert len(lines) == len(WorkerSettings.__dataclass_fields__)
