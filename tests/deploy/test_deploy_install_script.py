"""deploy/debian/install-packages.sh, run against stand-in apt-get, dpkg-query and sudo.

The stand-ins record how they were called, so each case checks what the script would
do to a real system: install only what is missing, nothing when all is there, go
through sudo when not root, and stop with a clear message when apt is unavailable.
"""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.files import INSTALL_SCRIPT

ALL = ["prometheus", "prometheus-alertmanager", "kcat"]


@dataclass(frozen=True, slots=True)
class Run:
    code: int
    said: str
    calls: list[str]
    """One line per stand-in call: the command and its arguments."""


def stand_in(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f'#!/bin/sh\necho "{name} $*" >> "$CALLS"\n{body}\n')
    path.chmod(0o755)


def run_script(
    tmp_path: Path,
    installed: list[str],
    *,
    uid: int = 0,
    apt: bool = True,
    sudo: bool = True,
    apt_fails: bool = False,
    arguments: tuple[str, ...] = (),
) -> Run:
    """The script with PATH holding only the stand-ins (and sh's own needs)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    calls.touch()
    installed_pattern = "|".join(installed) or "-none-"
    stand_in(bin_dir, "id", f"echo {uid}")
    if apt:
        stand_in(
            bin_dir,
            "dpkg-query",
            # The package is the last argument.
            f'for last; do :; done; case "$last" in {installed_pattern}) printf installed ;;'
            " *) exit 1 ;; esac",
        )
        stand_in(bin_dir, "apt-get", "exit 100" if apt_fails else "exit 0")
    if sudo:
        stand_in(bin_dir, "sudo", '[ "$1" = -n ] && shift; exec "$@"')
    real_env = shutil.which("env")
    assert real_env
    stand_in(bin_dir, "env", f'exec {real_env} "$@"')
    done = subprocess.run(
        ["/bin/sh", str(INSTALL_SCRIPT), *arguments],
        env={"PATH": str(bin_dir), "CALLS": str(calls)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return Run(done.returncode, done.stdout + done.stderr, calls.read_text().splitlines())


def installs(run: Run) -> list[str]:
    return [call for call in run.calls if call.startswith("apt-get") and " install " in call]


def test_installs_only_what_is_missing(tmp_path: Path) -> None:
    run = run_script(tmp_path, installed=["prometheus-alertmanager"])

    assert run.code == 0, run.said
    [install] = installs(run)
    assert install.split()[-2:] == ["prometheus", "kcat"]
    assert "-y" in install.split(), "must not ask for confirmation"
    assert "prometheus-alertmanager: already installed, skipped" in run.said


def test_does_nothing_when_everything_is_installed(tmp_path: Path) -> None:
    run = run_script(tmp_path, installed=ALL)

    assert run.code == 0, run.said
    assert not [call for call in run.calls if call.startswith(("apt-get", "sudo"))]
    assert "nothing to do" in run.said


def test_runs_apt_non_interactively(tmp_path: Path) -> None:
    run = run_script(tmp_path, installed=[])

    assert run.code == 0, run.said
    assert [c for c in run.calls if c.startswith("env")] == [
        "env DEBIAN_FRONTEND=noninteractive apt-get update -q",
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
        "prometheus prometheus-alertmanager kcat",
    ]


def test_goes_through_sudo_without_waiting_for_a_password(tmp_path: Path) -> None:
    run = run_script(tmp_path, installed=[], uid=1000)

    assert run.code == 0, run.said
    sudo_calls = [call for call in run.calls if call.startswith("sudo")]
    assert len(sudo_calls) == 2
    assert all(call.startswith("sudo -n env DEBIAN_FRONTEND") for call in sudo_calls)


def test_installs_only_the_packages_named(tmp_path: Path) -> None:
    run = run_script(tmp_path, installed=[], arguments=("kcat",))

    assert [call.split()[-1] for call in installs(run)] == ["kcat"]


@pytest.mark.parametrize(
    ("case", "options", "code", "message"),
    [
        # No apt at all (not Debian): say so, and what to install.
        ("no-apt", {"apt": False}, 2, "needs a Debian or Ubuntu system"),
        # Not root, no sudo: cannot install.
        ("no-sudo", {"uid": 1000, "sudo": False}, 3, "run as root"),
        # apt-get itself fails (no network, a broken mirror).
        ("apt-fails", {"apt_fails": True}, 4, "apt-get failed installing"),
    ],
)
def test_fails_saying_why(
    tmp_path: Path, case: str, options: dict[str, object], code: int, message: str
) -> None:
    run = run_script(tmp_path, installed=[], **options)  # type: ignore[arg-type]

    assert run.code == code, run.said
    assert message in run.said


def test_is_valid_posix_shell() -> None:
    done = subprocess.run(["sh", "-n", str(INSTALL_SCRIPT)], capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert INSTALL_SCRIPT.stat().st_mode & 0o111, "the script is not executable"
