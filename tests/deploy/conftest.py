"""Fixtures for the deployment tests: the Prometheus and Alertmanager command-line tools.

``promtool`` and ``amtool`` come from the Debian packages ``prometheus`` and
``prometheus-alertmanager``; when one is missing, ``deploy/debian/install-packages.sh``
is run once a session to install it, and the tests that need it are skipped, saying
why, when that fails (no apt, not root and no password-less sudo, no network).
"""

import shutil
import subprocess

import pytest

from deploy.files import INSTALL_SCRIPT

INSTALL_TIMEOUT = 900.0
"""apt-get update and install of the three packages took about 20 s here; mirrors vary."""


def _tool(command: str, package: str) -> str:
    found = shutil.which(command)
    if found:
        return found
    try:
        done = subprocess.run(
            ["sh", str(INSTALL_SCRIPT), package],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # no terminal: sudo fails at once rather than asking
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"{command} missing; installing {package} took over {INSTALL_TIMEOUT:.0f}s")
    found = shutil.which(command)
    if done.returncode != 0 or not found:
        said = (done.stdout + done.stderr).strip().splitlines()[-3:]
        pytest.skip(
            f"{command} missing and {INSTALL_SCRIPT.name} could not install {package} "
            f"(exit {done.returncode}): " + " / ".join(said)
        )
    return found


@pytest.fixture(scope="session")
def promtool() -> str:
    """The path of ``promtool`` (Debian package ``prometheus``), installed if need be."""
    return _tool("promtool", "prometheus")


@pytest.fixture(scope="session")
def amtool() -> str:
    """The path of ``amtool`` (Debian package ``prometheus-alertmanager``)."""
    return _tool("amtool", "prometheus-alertmanager")
