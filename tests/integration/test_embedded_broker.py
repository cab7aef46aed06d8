"""The embedded broker never outlives the process that started it.

It runs in a process group of its own (so that a Ctrl-C reaches the demo first,
see ``test_demo``), which a closed terminal or a ``kill -9`` of the demo would
otherwise leave it running in.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streaming import alive

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sys.platform != "linux", reason="the kernel's parent-death signal"),
]

STARTER = """
import sys, time
from pathlib import Path
from correlator.stream.broker import EmbeddedBroker
broker = EmbeddedBroker(Path(sys.argv[1])).start()
print(broker._process.pid, flush=True)
time.sleep(600)
"""
ENDS_WITHIN = 10.0


def test_broker_ends_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path / "broker.log")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert starter.stdout is not None
    broker = int(starter.stdout.readline())
    try:
        assert alive(broker)
        starter.kill()
        starter.wait()
        deadline = time.monotonic() + ENDS_WITHIN
        while alive(broker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(broker), f"broker {broker} still running {ENDS_WITHIN:.0f} s later"
    finally:
        if alive(broker):
            os.kill(broker, signal.SIGKILL)
