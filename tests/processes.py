"""Runs a script on several ``jax.distributed`` CPU processes on 127.0.0.1, as users run
many hosts: one coordinator on a free port, gloo collectives, every process under a
timeout (all are killed when one overruns).

The script runs after a prelude that reads ``PROCESS_ID, PROCESSES`` from ``sys.argv`` and
joins the runtime through :func:`jaxthresh.sharding.initialize`; extra arguments follow
in ``sys.argv[5:]``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from typing import NamedTuple

from tests.conftest import PROJECT_ROOT

PRELUDE = textwrap.dedent(
    """
    import sys
    import jax
    PROCESS_ID, PROCESSES, PORT, DEVICES = map(int, sys.argv[1:5])
    jax.config.update("jax_num_cpu_devices", DEVICES)
    import jaxthresh
    jaxthresh.sharding.initialize(f"127.0.0.1:{PORT}", PROCESSES, PROCESS_ID)
    """
)


class Finished(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_processes(
    script: str, *, processes: int = 2, devices: int = 1, timeout: float = 300, args=()
) -> list[Finished]:
    """Runs ``script`` (after :data:`PRELUDE`) on ``processes`` processes of ``devices``
    CPU devices each; returns each one's exit status and output. Raises ``TimeoutError``
    (with their output so far) if they do not all finish within ``timeout`` seconds."""
    port = free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("XLA_FLAGS", None)
    code = PRELUDE + textwrap.dedent(script)
    started = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(i), str(processes), str(port), str(devices)]
            + [str(a) for a in args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=PROJECT_ROOT,
        )
        for i in range(processes)
    ]
    return wait_all(started, timeout)


def wait_all(started: list[subprocess.Popen], timeout: float) -> list[Finished]:
    """Each started process's exit status and output; all are killed, and a
    ``TimeoutError`` with their output so far raised, if they do not all finish within
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    finished = []
    try:
        for process in started:
            out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            finished.append(Finished(process.returncode, out, err))
    except subprocess.TimeoutExpired:
        outputs = []
        for process in started:
            process.kill()
            out, err = process.communicate()
            outputs.append(f"--- process stdout:\n{out[-2000:]}\n--- stderr:\n{err[-2000:]}")
        raise TimeoutError(f"processes ran past {timeout} s\n" + "\n".join(outputs)) from None
    return finished


def check_all(finished: list[Finished]) -> list[str]:
    """Every process's stdout (without gloo's connection lines); an ``AssertionError``
    with the stderr of those that failed."""
    failed = [
        f"process {i}: exit {f.returncode}\n{f.stderr[-3000:]}"
        for i, f in enumerate(finished)
        if f.returncode
    ]
    assert not failed, "\n".join(failed)
    return [
        "".join(line for line in f.stdout.splitlines(True) if not line.startswith("[Gloo]"))
        for f in finished
    ]
