"""``correlator topology validate`` and ``correlator topology show`` as a user runs them."""

import re
from pathlib import Path

import pytest

from correlator.cli import main

GOOD = """\
version: 1
name: shop
nodes:
  - {id: checkout, kind: business_service, criticality: 1, depends_on: [cartservice]}
  - {id: cartservice, kind: service, depends_on: [cart-replicas, redis-cart]}
  - {id: redis-cart, kind: cache}
  - {id: cart-replicas, kind: group, members: [cart-0, cart-1], min_healthy: 1}
  - {id: cart-0, kind: host}
  - {id: cart-1, kind: host}
"""

CYCLIC = """\
version: 1
name: loop
nodes:
  - {id: checkout, kind: business_service, criticality: 2, depends_on: [a]}
  - {id: a, kind: service, depends_on: [b]}
  - {id: b, kind: service, depends_on: [a]}
"""


def write(tmp_path: Path, text: str, name: str = "topology.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_accepts_a_good_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD)

    assert main(["topology", "validate", str(path)]) == 0

    out, err = capsys.readouterr()
    assert re.fullmatch(
        rf"{re.escape(str(path))}: ok, 6 nodes, topology version shop@[0-9a-f]{{12}}\n", out
    )
    assert err == ""


@pytest.mark.parametrize(
    ("text", "node", "reason"),
    [
        pytest.param(
            GOOD.replace("depends_on: [cartservice]", "depends_on: [cartservise]"),
            "checkout",
            "depends on unknown node 'cartservise'",
            id="unknown-dependency",
        ),
        pytest.param(
            GOOD.replace("id: cart-1,", "id: cart-0,"),
            "cart-0",
            "duplicate id",
            id="duplicate-id",
        ),
        pytest.param(
            GOOD.replace("min_healthy: 1", "min_healthy: 3"),
            "cart-replicas",
            "'min_healthy' is 3 but the group has only 2",
            id="min-healthy",
        ),
        pytest.param(
            GOOD.replace("kind: cache", "kind: redis"),
            "redis-cart",
            "kind 'redis' is not one of",
            id="bad-kind",
        ),
        pytest.param(
            GOOD.replace("kind: cache}", "kind: cache, match: {port: 6379}}"),
            "redis-cart",
            "match must map label names to strings; not a string: port",
            id="selector-not-strings",
        ),
    ],
)
def test_validate_rejects_a_bad_file_naming_file_node_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, node: str, reason: str
) -> None:
    path = write(tmp_path, text)

    assert main(["topology", "validate", str(path)]) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert f"{path}: node {node!r}: {reason}" in err
    assert err.startswith("correlator: ")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param(
            "t.yaml", "version: 1\nname: t\nnodes:\n  - id: a\n   kind: host\n", "line 5", id="yaml"
        ),
        pytest.param(
            "t.json", '{"version": 1,\n "name": "t",\n "nodes": [\n}', "line 4", id="json"
        ),
    ],
)
def test_validate_reports_syntax_error_with_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, expected: str
) -> None:
    path = write(tmp_path, text, name)

    assert main(["topology", "validate", str(path)]) == 1

    err = capsys.readouterr().err
    assert str(path) in err
    assert "syntax error" in err
    assert expected in err


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "absent.yaml"

    assert main(["topology", "validate", str(path)]) == 1

    assert f"{path}: cannot read the file" in capsys.readouterr().err


def test_validate_warns_about_cycles_but_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, CYCLIC)

    assert main(["topology", "validate", str(path)]) == 0

    out, err = capsys.readouterr()
    assert ": ok, 3 nodes" in out
    assert err.count("dependency cycle:") == 1
    assert re.search(
        rf"warning: {re.escape(str(path))}: dependency cycle: (a -> b -> a|b -> a -> b)\n", err
    )


def test_show_without_node_prints_counts_by_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD)

    assert main(["topology", "show", str(path)]) == 0

    out = capsys.readouterr().out
    assert "6 nodes, 5 dependencies" in out
    counts = dict(re.findall(r"^  ([a-z_]+) +(\d+)$", out, flags=re.MULTILINE))
    assert counts == {
        "business_service": "1",
        "service": "1",
        "cache": "1",
        "host": "2",
        "group": "1",
    }
    assert re.search(r"^  checkout +checkout \(criticality 1\)$", out, flags=re.MULTILINE)


def test_show_node_prints_its_dependency_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD)

    assert main(["topology", "show", str(path), "cartservice"]) == 0

    assert capsys.readouterr().out == "\n".join(
        [
            "cartservice (service)",
            "├── cart-replicas (group, min_healthy 1 of 2)",
            "│   ├── cart-0 (host)",
            "│   └── cart-1 (host)",
            "└── redis-cart (cache)",
            "can affect: checkout",
            "",
        ]
    )


def test_show_node_in_a_cycle_terminates_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, CYCLIC)

    assert main(["topology", "show", str(path), "a"]) == 0

    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "a (service)",
        "└── b (service)",
        "    └── a (service)  <- cycle",
        "can affect: checkout",
    ]
    assert "topology.yaml: dependency cycle" in err


def test_show_unknown_node_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD)

    assert main(["topology", "show", str(path), "cartsevice"]) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert str(path) in err
    assert "no node 'cartsevice'" in err


def test_show_bad_file_fails_like_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace("kind: cache", "kind: redis"))

    assert main(["topology", "show", str(path)]) == 1

    assert f"{path}: node 'redis-cart': kind 'redis'" in capsys.readouterr().err
