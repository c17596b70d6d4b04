"""Rows over several JAX processes: the histogram pass and the fits with 1 and more
``jax.distributed`` processes on the same total rows, on one machine.

    python experiments/scaling.py --rows=200000 --classes=1000 --processes=1,2
    python experiments/scaling.py --rows=200000 --processes=2 --fits=exact --repeats=1

Each process is started on 127.0.0.1 (gloo collectives), pinned to a core of its own
(``taskset``; so that 1 process and P processes get one core each), generates its own
rows (``--rows / P`` of them; the rows of a block of 1000 depend only on the block's
global index, so every process count fits the same rows) and passes them to
``shard_rows(..., process_local=True)``; the rows are then fitted (median of --repeats
warm runs after one that compiles). Each (process count, fit) runs in fresh processes
under ``/usr/bin/time -v``, whose peak RSS is reported per process beside the bytes of
that process's own rows, and beside a run of the same fit on --baseline_rows rows (the
constant: the runtime and the compiled programs).

Reported: seconds, scores fitted per second per process, the overhead of P processes
(``P * t_P / t_1 - 1``: 0 is perfect scaling), the bytes each process sends through
collectives (from the shapes: see ``collective_bytes``), peak RSS. Saved as JSON with
--output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
from absl import app, flags

FITS = {
    "histogram_pass": None,  # histogram_pass(all_processes=True), 1024 cells
    "exact": ("exact", {}),
    "default": ("default", {}),
    "sgl": ("sgl", {"epochs": 100}),
    "sgl_bins": ("sgl", {"epochs": 100, "bins": 1024}),
}

_ROWS = flags.DEFINE_integer("rows", 200_000, "Rows in all (split over the processes).")
_CLASSES = flags.DEFINE_integer("classes", 1000, "Classes.")
_RATE = flags.DEFINE_float("positive_rate", 0.02, "Fraction of positive labels.")
_PROCESSES = flags.DEFINE_list("processes", ["1", "2"], "Process counts to run.")
_FITS = flags.DEFINE_list("fits", list(FITS), f"What to time, of {', '.join(FITS)}.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed warm runs (median).")
_BASELINE = flags.DEFINE_integer("baseline_rows", 1000, "Rows of the RSS baseline run (0: none).")
_PIN = flags.DEFINE_bool("pin", True, "Pin each process to a core of its own.")
_TIMEOUT = flags.DEFINE_integer("timeout", 1800, "Seconds before the processes are killed.")
_OUTPUT = flags.DEFINE_string("output", None, "JSON file for the results.")
# Set by the launcher for its workers.
_WORKER = flags.DEFINE_integer("worker", None, "(internal) this worker's process id.")
_COUNT = flags.DEFINE_integer("count", 1, "(internal) number of worker processes.")
_PORT = flags.DEFINE_integer("port", 0, "(internal) the coordinator's port.")
_FIT = flags.DEFINE_string("fit", None, "(internal) the fit to time.")
_WORKER_ROWS = flags.DEFINE_integer("worker_rows", 0, "(internal) rows in all.")

BLOCK = 1000


def collective_bytes(fit: str, own_rows: int, classes: int, processes: int, slots: int) -> int:
    """Bytes one process sends through collectives in one fit, from the shapes: the
    exact searches trade (P - 1)/P of their rows' scores (4 bytes), labels and row
    weights (1 byte each, as uint8) with one all-to-all; the pooled best threshold
    gathers each process's ``slots`` candidate keys and sums ``3 (slots + 1)`` counts
    (int32); SGLThresh sums four ``[classes]`` vectors per epoch (100 epochs; 4 bytes each)
    after the best threshold (its init); histograms gather two ``[classes, 1024]`` int32
    tables (plus per-class ranges)."""
    if processes == 1:
        return 0
    pooled = slots * 4 + 3 * (slots + 1) * 4
    if fit == "exact":
        return own_rows * classes * 6 * (processes - 1) // processes
    if fit == "default":
        return pooled
    if fit == "sgl":
        return pooled + 100 * 4 * classes * 4
    return classes * 1024 * 4 * 2 + classes * 8


def _local_rows(process: int, processes: int, rows: int, classes: int, rate: float):
    """This process's rows: blocks of BLOCK rows dealt in order, each from its own seed."""
    blocks = np.array_split(np.arange(-(-rows // BLOCK)), processes)[process]
    sizes = [min(BLOCK, rows - b * BLOCK) for b in blocks]
    scores = np.empty((sum(sizes), classes), np.float32)
    labels = np.empty((sum(sizes), classes), bool)
    start = 0
    for block, size in zip(blocks, sizes, strict=True):
        rng = np.random.default_rng(int(block))
        y = rng.random((size, classes), np.float32) < rate
        labels[start : start + size] = y
        scores[start : start + size] = rng.random(y.shape, np.float32) * 0.6 + 0.4 * y
        start += size
    return scores, labels


def _worker() -> None:
    import resource

    import jax

    import jaxthresh

    process, processes = _WORKER.value, _COUNT.value
    if processes > 1:
        jaxthresh.sharding.initialize(f"127.0.0.1:{_PORT.value}", processes, process)
    scores, labels = _local_rows(
        process, processes, _WORKER_ROWS.value, _CLASSES.value, _RATE.value
    )
    own_bytes = scores.nbytes + labels.nbytes
    if _FIT.value == "histogram_pass":

        def run():
            return jaxthresh.histogram_pass(scores, labels, bins=1024, all_processes=True)

        slots = 0
    else:
        sharded = jaxthresh.shard_rows(scores, labels, process_local=True)
        del scores, labels  # the devices hold the rows now
        method, hyperparameters = FITS[_FIT.value]
        slots = int(jax.device_get(jax.jit(lambda y: y.sum())(sharded.labels)))
        slots = 1 << max(slots - 1, 0).bit_length()

        def run():
            return jaxthresh.fit(method, *sharded, **hyperparameters)

    seconds = []
    for _ in range(1 + _REPEATS.value):
        start = time.perf_counter()
        jax.block_until_ready(run())
        seconds.append(time.perf_counter() - start)
    if process == 0:
        result = {
            "compile_and_run_s": seconds[0],
            "median_s": float(np.median(seconds[1:])),
            "own_bytes": own_bytes,
            "slots": slots,
            "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        print("RESULT " + json.dumps(result), flush=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _launch(fit: str, processes: int, rows: int) -> dict:
    """Runs ``processes`` workers; process 0's result and every process's peak RSS."""
    port, cores = _free_port(), os.cpu_count() or 1
    timed = os.path.exists("/usr/bin/time")
    started = []
    for process in range(processes):
        command = [sys.executable, __file__, f"--worker={process}", f"--count={processes}"]
        command += [f"--port={port}", f"--fit={fit}", f"--worker_rows={rows}"]
        command += [f"--classes={_CLASSES.value}", f"--positive_rate={_RATE.value}"]
        command += [f"--repeats={_REPEATS.value}"]
        if timed:
            command = ["/usr/bin/time", "-v", *command]
        if _PIN.value and shutil.which("taskset"):
            command = ["taskset", "-c", str(process % cores), *command]
        environment = {**os.environ, "JAX_PLATFORMS": "cpu"}
        started.append(
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
            )
        )
    outputs = []
    try:
        for worker in started:
            outputs.append(worker.communicate(timeout=_TIMEOUT.value))
    finally:
        for worker in started:
            worker.kill()
    for worker, (_, err) in zip(started, outputs, strict=True):
        if worker.returncode:
            raise RuntimeError(f"{fit} on {processes} processes failed:\n{err[-3000:]}")
    result = json.loads(
        next(line[7:] for line in outputs[0][0].splitlines() if line.startswith("RESULT "))
    )
    peaks = [re.search(r"Maximum resident set size \(kbytes\): (\d+)", err) for _, err in outputs]
    result["peak_rss_mb"] = [int(p.group(1)) / 1024 for p in peaks if p]
    return result


def main(argv):
    del argv
    if _WORKER.value is not None:
        _worker()
        return
    unknown = sorted(set(_FITS.value) - set(FITS))
    if unknown:
        raise ValueError(f"fits: unknown {', '.join(unknown)}; known: {', '.join(FITS)}")
    counts = [int(p) for p in _PROCESSES.value]
    if not counts or min(counts) < 1:
        raise ValueError(f"processes: must be counts >= 1, got {_PROCESSES.value}")
    if _OUTPUT.value:
        from jaxthresh.cli.files import check_writable

        check_writable(_OUTPUT.value)
    classes = _CLASSES.value
    results = []
    header = (
        f"{'fit':<15} {'P':>2} {'rows/P':>8} {'median s':>9} {'Mscores/s/P':>11} "
        f"{'overhead':>8} {'sent MB/P':>9} {'peak RSS MB':>14} {'own MB':>7} {'base MB':>8}"
    )
    print(header)
    for fit in _FITS.value:
        single = None
        for processes in counts:
            result = _launch(fit, processes, _ROWS.value)
            baseline = (
                _launch(fit, processes, _BASELINE.value * processes) if _BASELINE.value else None
            )
            own_rows = _ROWS.value // processes
            result.update(
                fit=fit,
                processes=processes,
                rows_per_process=own_rows,
                scores_per_second_per_process=own_rows * classes / result["median_s"],
                sent_bytes_per_process=collective_bytes(
                    fit, own_rows, classes, processes, result["slots"]
                ),
                baseline_peak_rss_mb=None if baseline is None else baseline["peak_rss_mb"],
            )
            if processes == 1:
                single = result["median_s"]
            result["overhead"] = (
                None if single is None else processes * result["median_s"] / single - 1
            )
            results.append(result)
            overhead = "" if result["overhead"] is None else f"{result['overhead']:+.2f}"
            base = "" if baseline is None else f"{max(baseline['peak_rss_mb']):.0f}"
            print(
                f"{fit:<15} {processes:>2} {own_rows:>8} {result['median_s']:>9.2f} "
                f"{result['scores_per_second_per_process'] / 1e6:>11.1f} {overhead:>8} "
                f"{result['sent_bytes_per_process'] / 1e6:>9.1f} "
                f"{'/'.join(f'{m:.0f}' for m in result['peak_rss_mb']):>14} "
                f"{result['own_bytes'] / 1e6:>7.0f} {base:>8}",
                flush=True,
            )
    if _OUTPUT.value:
        from jaxthresh.cli.files import write_json_atomic

        write_json_atomic(_OUTPUT.value, {"rows": _ROWS.value, "classes": classes, "runs": results})


if __name__ == "__main__":
    app.run(main)
