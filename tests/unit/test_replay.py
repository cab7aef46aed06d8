"""``correlator replay`` end to end, as a user runs it: files in, JSONL and a summary out."""

import base64
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from support import SHOP_YAML, T0, generic, pipeline, webhook

from correlator import replay as replay_module
from correlator.cli import main
from correlator.event import schema
from correlator.timestamps import format_timestamp


def envelope(at: float, value: object) -> bytes:
    return orjson.dumps({"received_at": format_timestamp(at), "value": value})


def cascade_lines() -> list[bytes]:
    redis = generic("RedisDown", at=T0, service="redis-cart")
    crash = generic("KubePodCrashLooping", at=T0 + 3, severity="warning", service="cartservice")
    resolved = {**redis, "status": "resolved", "endsAt": format_timestamp(T0 + 120)}
    return [
        envelope(T0 + 1, webhook(redis)),
        envelope(T0 + 4, webhook(redis, crash)),
        envelope(T0 + 60, webhook(redis, crash)),
        envelope(T0 + 121, webhook(resolved)),
    ]


@pytest.fixture
def topology(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP_YAML)
    return path


def replay(
    topology: Path, lines: list[bytes], tmp_path: Path, *extra: str
) -> tuple[int, list[dict[str, Any]], Path]:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "impacts.jsonl"
    code = main(["replay", "--topology", str(topology), "--alerts", str(alerts),
                 "--out", str(out), *extra])  # fmt: skip
    return code, [json.loads(line) for line in out.read_bytes().splitlines()], out


def test_replay_writes_impacts_and_a_summary(
    topology: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, events, _ = replay(topology, cascade_lines(), tmp_path)
    assert code == 0
    assert [e["type"] for e in events] == ["impact.opened", "impact.updated"]
    assert events[0]["root_cause"]["node"] == "redis-cart"
    assert events[0]["opened_at"] == format_timestamp(T0 + 11)  # received T0+1, group wait 10 s
    summary = capsys.readouterr().err
    assert "lines read: 4" in summary
    assert "alerts read: 6 (alertmanager 6)" in summary
    assert "deduplicated: 3" in summary  # redis twice, the crashloop once
    assert "incidents: 1" in summary
    assert "impacts: 2 (impact.opened P1 1, impact.updated P2 1)" in summary


def test_same_input_gives_byte_identical_output(topology: Path, tmp_path: Path) -> None:
    outputs = []
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        outputs.append(replay(topology, cascade_lines(), tmp_path / run)[2].read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") == 2


def test_every_event_validates_against_the_shipped_schema(topology: Path, tmp_path: Path) -> None:
    _, events, _ = replay(topology, cascade_lines(), tmp_path)
    validator = jsonschema.Draft202012Validator(schema())
    for event in events:
        validator.validate(event)


def test_raw_bodies_without_envelope_use_the_alerts_own_time(
    topology: Path, tmp_path: Path
) -> None:
    lines = [orjson.dumps(webhook(generic("RedisDown", at=T0, service="redis-cart")))]
    _, [opened], _ = replay(topology, lines, tmp_path)
    assert opened["opened_at"] == format_timestamp(T0 + 10)


BAD_LINES = [
    (b"", "empty"),
    (b'{"received_at": "2026-11-20T14:00:01Z", "value": {"labels": ', "invalid_json"),
    (b'{"labels": {"alertname": "\xc3\x28"}}', "not_utf8"),
    (b'{"received_at": "not a time", "value": {}}', "bad_timestamp"),
    (orjson.dumps({"labels": {"alertname": 5}}), "wrong_type"),
    (b"[" * 3000 + b"]" * 3000, "invalid_json"),
]


def test_bad_lines_never_stop_replay_nor_lose_the_next_alert(
    topology: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = cascade_lines()
    lines = [good[0], *(line for line, _ in BAD_LINES), *good[1:]]
    deadletter = tmp_path / "dead.jsonl"
    code, events, _ = replay(topology, lines, tmp_path, "--deadletter", str(deadletter))
    assert code == 0
    assert [e["type"] for e in events] == ["impact.opened", "impact.updated"]
    letters = [json.loads(line) for line in deadletter.read_bytes().splitlines()]
    assert [letter["reason"] for letter in letters] == [reason for _, reason in BAD_LINES]
    assert [letter["source"]["line"] for letter in letters] == list(range(2, 2 + len(BAD_LINES)))
    assert all(letter["error"] and letter["received_at"] for letter in letters)
    not_utf8 = letters[2]
    assert not_utf8["raw_encoding"] == "base64"
    assert base64.b64decode(not_utf8["raw"]) == BAD_LINES[2][0]
    assert "invalid: 6" in capsys.readouterr().err


def test_dead_letter_raw_is_bounded(topology: Path, tmp_path: Path) -> None:
    huge = orjson.dumps({"labels": {"alertname": "A", "x": 1}, "pad": "é" * 100_000})
    deadletter = tmp_path / "dead.jsonl"
    replay(topology, [huge], tmp_path, "--deadletter", str(deadletter))
    [letter] = [json.loads(line) for line in deadletter.read_bytes().splitlines()]
    assert letter["raw_truncated"] is True
    assert letter["raw_bytes"] == len(huge)
    assert letter["raw_encoding"] == "utf-8"
    assert len(letter["raw"].encode()) <= 64 * 1024


def test_text_format_reads_like_a_sentence(
    topology: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(b"\n".join(cascade_lines()))
    assert main(["replay", "--topology", str(topology), "--alerts", str(alerts),
                 "--format", "text"]) == 0  # fmt: skip
    first = capsys.readouterr().out.splitlines()[0]
    assert "OPENED" in first and "P1" in first and "Checkout" in first
    assert "root cause redis-cart (cache" in first


def test_text_format_lines_up_services_whatever_their_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_name = "Browse the catalogue of every product"
    topology = tmp_path / "shop.yaml"
    topology.write_text(SHOP_YAML.replace("name: Browse,", f"name: {long_name},"))
    redis = generic("RedisDown", at=T0, service="redis-cart")
    lb = generic("LoadBalancerDown", at=T0, service="lb")
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(envelope(T0 + 1, webhook(redis, lb)))
    assert main(["replay", "--topology", str(topology), "--alerts", str(alerts),
                 "--format", "text"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert any(long_name in line for line in lines) and any(" Checkout " in line for line in lines)
    status_columns = {re.search(r" (down|degraded|ok) ", line).start() for line in lines}  # type: ignore[union-attr]
    assert len(status_columns) == 1, lines


def test_settings_come_from_flags_and_environment(
    topology: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORRELATOR_GROUP_WAIT", "30s")
    _, events, _ = replay(topology, cascade_lines(), tmp_path)
    assert events[0]["opened_at"] == format_timestamp(T0 + 31)
    _, events, _ = replay(topology, cascade_lines(), tmp_path, "--group-wait", "0")
    assert events[0]["opened_at"] == format_timestamp(T0 + 1)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--alerts", "x.jsonl"], "needs --topology FILE (or CORRELATOR_TOPOLOGY)"),
        (["--topology", "t.yaml"], "needs --alerts FILE (or CORRELATOR_ALERTS)"),
        (["--topology", "missing.yaml", "--alerts", "x"], "missing.yaml: cannot read"),
    ],
)
def test_usage_errors_say_what_to_do(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CORRELATOR_TOPOLOGY", raising=False)
    monkeypatch.delenv("CORRELATOR_ALERTS", raising=False)
    assert main(["replay", *argv]) == 1
    assert message in capsys.readouterr().err


def test_bad_setting_value_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--topology", "t", "--alerts", "a", "--window", "soon"])
    assert "expected a duration" in capsys.readouterr().err


def test_long_replays_report_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_module, "PROGRESS_EVERY", 2)
    seen: list[tuple[int, int]] = []
    replay_module.replay(
        pipeline(),
        cascade_lines(),
        "alerts.jsonl",
        lambda event: None,
        on_progress=lambda lines, tally: seen.append((lines, sum(tally.received.values()))),
    )
    # After line 1 (1 alert) and line 3 (1 + 2 + 2 alerts) have been read.
    assert seen == [(2, 1), (4, 5)]


def test_dead_letters_carry_the_lines_own_arrival_time(topology: Path, tmp_path: Path) -> None:
    first = orjson.dumps({"received_at": "2026-01-01T00:00:00Z", "value": [[{"labels": {}}]]})
    deadletter = tmp_path / "dead.jsonl"
    replay(topology, [first, b"not json"], tmp_path, "--deadletter", str(deadletter))
    letters = [json.loads(line) for line in deadletter.read_bytes().splitlines()]
    # The envelope's time; for the bare line no time is known yet: null, never 1970.
    assert [letter["received_at"] for letter in letters] == ["2026-01-01T00:00:00.000Z", None]


def test_the_summary_shows_why_the_first_line_was_rejected(
    topology: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replay(topology, [b'{"labels": {"alertname": "DiskFull"}}'], tmp_path)
    assert "first: line 1: alert.startsAt: missing" in capsys.readouterr().err


def test_the_summary_places_a_broken_line_by_its_line_in_the_file(
    topology: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replay(topology, [*cascade_lines()[:1], b"tru garbage"], tmp_path)
    err = capsys.readouterr().err
    assert "first: line 2: not valid JSON at column 1: " in err
    assert "--deadletter FILE keeps them all" in err


def test_the_summary_names_the_dead_letter_file_when_one_is_given(
    topology: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deadletter = tmp_path / "dead.jsonl"
    replay(topology, [b"{"], tmp_path, "--deadletter", str(deadletter))
    err = capsys.readouterr().err
    assert f"(all of them in {deadletter})" in err
    assert "--deadletter FILE" not in err


def test_a_file_without_one_alert_is_called_out(
    topology: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, events, _ = replay(topology, [b"version: 1", b"name: shop", b"nodes:"], tmp_path)
    assert (code, events) == (0, [])
    assert "held an alert; --alerts takes JSON lines" in capsys.readouterr().err


def test_a_file_of_alerts_that_fail_checks_is_not_called_out_as_the_wrong_file(
    topology: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_start = b'{"labels": {"alertname": "DiskFull"}}'
    replay(topology, [no_start, no_start], tmp_path)
    err = capsys.readouterr().err
    assert "missing_field 2" in err
    assert "held an alert" not in err


def test_a_file_with_alerts_is_not_called_out(
    topology: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replay(topology, [*cascade_lines(), b"not json"], tmp_path)
    assert "held an alert" not in capsys.readouterr().err


def test_every_replay_flag_reads_its_variable(
    topology: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(b"\n".join(cascade_lines()))
    out = tmp_path / "out.txt"
    for flag, value in [
        ("TOPOLOGY", topology),
        ("ALERTS", alerts),
        ("OUT", out),
        ("FORMAT", "text"),
    ]:
        monkeypatch.setenv(f"CORRELATOR_{flag}", str(value))
    assert main(["replay"]) == 0
    assert out.read_text().startswith("2026-11-20T14:00:11.000Z  OPENED")


def test_a_bad_variable_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CORRELATOR_GROUP_WAIT", "ten")
    assert main(["replay", "--topology", "t", "--alerts", "a"]) == 1
    assert "correlator: CORRELATOR_GROUP_WAIT: expected a duration" in capsys.readouterr().err
