"""The Dockerfile, read without Docker: stages, user, health check, entry point, files.

No Docker engine runs the tests, so the image is checked where it can be: the
instructions, the files it copies (present, and not excluded by .dockerignore), and
the health-check command, run here against a stand-in /healthz.
"""

import http.server
import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

import pytest

from correlator.topology import load_topology
from deploy.files import DOCKERFILE, HEALTH_PATH, REPO, WEB_PORT, kubernetes_object, setting_names


@dataclass(frozen=True, slots=True)
class Instruction:
    stage: int
    """Index of the FROM this instruction belongs to."""
    keyword: str
    arguments: str


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    found = []
    stage = -1
    for text in logical:
        keyword, _, arguments = text.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        found.append(Instruction(stage, keyword.upper(), arguments.strip()))
    return found


def final_stage() -> list[Instruction]:
    every = instructions()
    last = max(item.stage for item in every)
    return [item for item in every if item.stage == last]


def last(keyword: str) -> Instruction:
    matching = [item for item in final_stage() if item.keyword == keyword]
    assert matching, f"the runtime stage has no {keyword}"
    return matching[-1]


def environment() -> dict[str, str]:
    """ENV of the runtime stage (``KEY=value`` pairs)."""
    found: dict[str, str] = {}
    for item in final_stage():
        if item.keyword == "ENV":
            found |= dict(re.findall(r"(\w+)=(\S+)", item.arguments))
    return found


def copies() -> Iterator[tuple[list[str], str, Instruction]]:
    """(sources, destination, instruction) of every COPY from the build context."""
    for item in instructions():
        if item.keyword == "COPY" and "--from=" not in item.arguments:
            words = [word for word in item.arguments.split() if not word.startswith("--")]
            yield words[:-1], words[-1], item


def test_multi_stage_build_into_a_slim_python_runtime() -> None:
    froms = [item.arguments for item in instructions() if item.keyword == "FROM"]
    build_stage = froms[0].split()[-1]
    runtime = " ".join(item.arguments for item in final_stage())

    assert len(froms) >= 2, "not a multi-stage build"
    assert " AS " in froms[0].upper()
    assert re.match(r"python:\S*slim\b", froms[-1].replace("${PYTHON_VERSION}", "3.11"))
    assert f"from={build_stage}" in runtime, "the runtime takes nothing from the build stage"
    assert "pip wheel" in " ".join(i.arguments for i in instructions() if i.stage == 0)


def test_python_version_is_one_the_package_supports() -> None:
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    [default] = re.findall(r"ARG PYTHON_VERSION=(\S+)", DOCKERFILE.read_text())

    minimum = re.fullmatch(r">=\s*(\d+)\.(\d+)", requires)

    assert minimum, f"requires-python {requires!r}: update this test"
    assert tuple(map(int, default.split("."))) >= tuple(map(int, minimum.groups()))


def test_runs_as_an_unprivileged_user() -> None:
    user = last("USER").arguments.split(":")[0]

    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric USER lets Kubernetes check runAsNonRoot"


def test_the_kubernetes_pod_runs_as_the_image_user() -> None:
    user = int(last("USER").arguments.split(":")[0])
    security = kubernetes_object("Deployment", "correlator")["spec"]["template"]["spec"]

    assert security["securityContext"]["runAsUser"] == user


def test_entry_point_is_the_correlator_command_running_the_worker() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]

    assert json.loads(last("ENTRYPOINT").arguments) == ["correlator"]
    assert json.loads(last("CMD").arguments) == ["worker"]
    assert "correlator" in scripts


def test_image_settings_are_real_settings() -> None:
    names = {name for name in environment() if name.startswith("CORRELATOR_")}

    assert names <= setting_names(), f"correlator worker reads no {sorted(names - setting_names())}"
    assert int(environment()["CORRELATOR_WEB_PORT"]) == WEB_PORT
    assert f"EXPOSE {WEB_PORT}" in {f"{i.keyword} {i.arguments}" for i in final_stage()}


def test_the_baked_in_topology_is_where_the_worker_looks_and_valid() -> None:
    topology = environment()["CORRELATOR_TOPOLOGY"]
    [(sources, _, _)] = [(s, d, i) for s, d, i in copies() if d == topology]

    assert load_topology(REPO / sources[0]).name == "online-boutique"


def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    excluded = False
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    candidates = [str(PurePosixPath(*PurePosixPath(path).parts[: n + 1])) for n in range(99)]
    candidates = list(dict.fromkeys(candidates))
    for raw in lines:
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def test_build_context_holds_what_the_build_copies() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    needed = [source for sources, _, _ in copies() for source in sources]
    package_files = [
        str(path.relative_to(REPO)) for path in (REPO / "correlator").rglob("*") if path.is_file()
    ]

    assert project["readme"] in needed, "pyproject's readme must be in the build"
    for source in needed:
        assert (REPO / source).exists(), f"COPY {source}: no such file"
        assert not dockerignore_excludes(source), f".dockerignore excludes {source}"
    for path in package_files:
        if "__pycache__" not in path:
            assert not dockerignore_excludes(path), f".dockerignore excludes {path}"


def test_dockerignore_keeps_the_virtualenv_and_git_out() -> None:
    for path in [".venv/bin/python", ".git/HEAD", "tests/unit/test_parse.py", "bench/x.py"]:
        assert dockerignore_excludes(path), path


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == HEALTH_PATH else 404)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def run_healthcheck(port: int) -> int:
    """The HEALTHCHECK command as Docker runs it in the image, with the port it would read."""
    arguments = last("HEALTHCHECK").arguments
    command = json.loads(arguments[arguments.index("CMD ") + 4 :])
    assert command[0] == "python", "slim has no curl: the check must use python"
    done = subprocess.run(
        [sys.executable, *command[1:]],
        env={**os.environ, "CORRELATOR_WEB_PORT": str(port)},
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_passes_only_when_healthz_answers_ok(status: int, healthy: bool) -> None:
    handler = type("Handler", (_Health,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = run_healthcheck(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()

    assert (code == 0) is healthy


def test_healthcheck_fails_when_nothing_listens() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    port = server.server_address[1]
    server.server_close()

    assert run_healthcheck(port) != 0


def test_healthcheck_has_a_timeout_and_a_start_period() -> None:
    options = last("HEALTHCHECK").arguments

    assert "--timeout=" in options
    assert "--start-period=" in options
