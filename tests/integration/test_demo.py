"""``correlator demo`` as a new user runs it: impacts soon, metrics served, Ctrl-C leaves nothing.

The demo starts its own embedded broker, so it needs no ``broker`` fixture; it is
an integration test because it runs that broker and the worker for real.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from streaming import alive

from correlator.stream.broker import free_port
from correlator.stream.worker import QUIT_CODE

pytestmark = pytest.mark.integration

CORRELATOR = str(Path(sys.executable).parent / "correlator")
IMPACT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT[\d:.]+Z  OPENED +P[1-4]  .+ (down|degraded) +root cause \S+ .+ key=\S+$"
)
FIRST_IMPACT_WITHIN = 30.0
STOPS_WITHIN = 15.0


class Lines:
    """A process's output lines as they come, read on a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str], deadline: float) -> str | None:
        """The first line matching ``pattern`` by the ``time.monotonic()`` deadline, else None."""
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if pattern.search(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def text(self) -> str:
        with self._changed:
            return "\n".join(self.lines)


def children(pid: int) -> dict[int, str]:
    """Processes whose parent is ``pid``, with their command lines (read from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found[int(entry.name)] = cmdline
    return found


@contextmanager
def demo(web_port: int) -> Iterator[tuple[subprocess.Popen[str], Lines, float]]:
    started = time.monotonic()
    process = subprocess.Popen(
        [CORRELATOR, "demo", "--speed", "40", "--web-port", str(web_port)],
        env={key: value for key, value in os.environ.items() if not key.startswith("CORRELATOR_")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        process_group=0,  # the demo leads its group, as a shell's foreground job does
    )
    try:
        yield process, Lines(process), started
    finally:
        if process.poll() is None:  # the test failed: leave no broker behind either
            for pid in children(process.pid):
                os.kill(pid, signal.SIGKILL)
            process.kill()
            process.wait()


def test_demo_shows_impacts_serves_metrics_and_stops_cleanly_on_ctrl_c() -> None:
    web_port = free_port()
    with demo(web_port) as (process, output, started):
        metrics_line = output.wait_for(
            re.compile(r"^metrics +http://\S+/metrics$"), started + FIRST_IMPACT_WITHIN
        )
        assert metrics_line is not None, output.text()
        url = metrics_line.split()[-1]
        assert url == f"http://127.0.0.1:{web_port}/metrics"

        first = output.wait_for(IMPACT_LINE, started + FIRST_IMPACT_WITHIN)
        assert first is not None, (
            f"no impact line {FIRST_IMPACT_WITHIN:.0f} s after start:\n{output.text()}"
        )

        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            metrics = response.read().decode()
        emitted = re.findall(
            r'^correlator_impacts_emitted_total\{[^}]*type="impact.opened"[^}]*\} (\S+)$',
            metrics,
            re.MULTILINE,
        )
        assert emitted, metrics
        assert sum(float(value) for value in emitted) >= 1

        brokers = {pid: cmd for pid, cmd in children(process.pid).items() if "tansu" in cmd}
        assert brokers, children(process.pid)

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        stopping = time.monotonic()
        try:
            code = process.wait(timeout=STOPS_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"demo still running {STOPS_WITHIN:.0f} s after SIGINT:\n{output.text()}")
        stopped_in = time.monotonic() - stopping

        assert code == 0, output.text()[-3000:]
        assert "Traceback" not in output.text()
        left = [pid for pid in brokers if alive(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert left == [], f"broker still running after the demo stopped in {stopped_in:.1f} s"


def test_a_second_ctrl_c_quits_the_demo_at_once_leaving_nothing() -> None:
    with demo(free_port()) as (process, output, started):
        broker_line = output.wait_for(re.compile(r"^broker +kafka://"), started + 30)
        assert broker_line is not None, output.text()
        scratch = Path(broker_line.rsplit("log ", 1)[1].rstrip(")")).parent
        assert output.wait_for(IMPACT_LINE, started + FIRST_IMPACT_WITHIN), output.text()
        brokers = [pid for pid, cmd in children(process.pid).items() if "tansu" in cmd]

        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.2)  # a stop on a live broker takes seconds: this lands during it
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=STOPS_WITHIN)

    assert code == QUIT_CODE, output.text()[-3000:]
    assert not scratch.exists(), f"{scratch} left behind"
    assert brokers and not [pid for pid in brokers if alive(pid)]
