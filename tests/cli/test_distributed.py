"""`jaxthresh fit --bins` on several processes (--coordinator_address, --num_processes,
--process_id): the installed console script on 2 CPU processes of 127.0.0.1, each reading
its own files, against the one-process tool on the rows concatenated.

Each multi-process run starts a coordinator and imports JAX in every process (a few
seconds); the flag checks that come before joining run in this process.
"""

import json
import os
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxthresh.cli import tool
from tests.cli.inprocess import run_main
from tests.conftest import random_problem
from tests.processes import Finished, free_port, wait_all

SCRIPT = os.path.join(os.path.dirname(sys.executable), "jaxthresh")
#: Lines that are not the tool's own: absl log lines, and gloo's greeting on stdout.
NOISE = re.compile(r"^([IWEF]\d{4} |\[Gloo\] )")
NAMES = [f"tag{i}" for i in range(64)]


def cli(*args):
    return run_main(tool.main, ["jaxthresh", *map(str, args)])


def own_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not NOISE.match(line)]


def start_tool_processes(arguments: list[list[str]], cwd) -> list[subprocess.Popen]:
    """The console script on ``len(arguments)`` processes joined by the process flags,
    process ``i`` with ``arguments[i]``; see :func:`finished`."""
    port = free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    return [
        subprocess.Popen(
            [
                SCRIPT,
                "fit",
                *given,
                f"--coordinator_address=127.0.0.1:{port}",
                f"--num_processes={len(arguments)}",
                f"--process_id={i}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        for i, given in enumerate(arguments)
    ]


def run_tool_processes(arguments: list[list[str]], cwd) -> list[Finished]:
    return wait_all(start_tool_processes(arguments, cwd), timeout=120)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """4200 x 64 rows: 2500 for process 0 (.npz with class names), 1700 for process 1
    (.csv with a header of class names), and all of them in one .npz."""
    folder = tmp_path_factory.mktemp("parts")
    scores, labels = random_problem(31, rows=4200, classes=64)
    np.savez(folder / "first.npz", scores=scores[:2500], labels=labels[:2500], class_names=NAMES)
    for name, values in (("scores", scores[2500:]), ("labels", labels[2500:].astype(int))):
        lines = [",".join(NAMES)] + [",".join(repr(float(v)) for v in row) for row in values]
        (folder / f"second_{name}.csv").write_text("\n".join(lines) + "\n")
    np.savez(folder / "all.npz", scores=scores, labels=labels, class_names=NAMES)
    return folder


@pytest.mark.parametrize(
    "common",
    [
        ["--bins=256", "--method=exact"],
        pytest.param(["--method=exact"], marks=pytest.mark.slow, id="rows"),
    ],
)
def test_fit_on_two_processes_writes_the_thresholds_of_one(parts, tmp_path, common):
    """With --bins on the merged histograms; without, on every process's rows."""
    first = [f"--scores={parts / 'first.npz'}", f"--labels={parts / 'first.npz'}"]
    second = [f"--scores={parts / 'second_scores.csv'}", f"--labels={parts / 'second_labels.csv'}"]
    started = start_tool_processes(
        [
            [*first, *common, f"--output={tmp_path / 'thresholds.json'}"],
            [*second, *common, f"--output={tmp_path / 'elsewhere.json'}"],
        ],
        cwd=tmp_path,
    )
    try:  # the one-process tool on every row, here, while they start
        one = cli(
            "fit",
            f"--scores={parts / 'all.npz'}",
            f"--labels={parts / 'all.npz'}",
            *common,
            f"--output={tmp_path / 'one.json'}",
        )
    finally:
        ran = wait_all(started, timeout=120)
    assert one.returncode == 0, one.stderr
    assert [r.returncode for r in ran] == [0, 0], [r.stderr[-3000:] for r in ran]
    assert own_lines(ran[1].stdout) == [] and own_lines(ran[1].stderr) == []
    assert not (tmp_path / "elsewhere.json").exists()
    many = json.loads((tmp_path / "thresholds.json").read_text())
    single = json.loads((tmp_path / "one.json").read_text())
    assert many["thresholds"] == single["thresholds"]
    for key in ("class_names", "slopes", "score", "n_rows", "hyperparameters", "summary"):
        assert many[key] == single[key], key
    assert own_lines(ran[0].stdout) == [
        f"exact: micro-F1 {100 * single['score']:.2f}% on 4200 rows of 2 processes; "
        f"64 thresholds written to {tmp_path / 'thresholds.json'}"
    ]


@pytest.mark.parametrize(
    "case", ["a missing file", pytest.param("other classes", marks=pytest.mark.slow)]
)
def test_a_bad_input_on_one_process_is_an_error_on_every_process(parts, tmp_path, case):
    output = tmp_path / "out"
    output.mkdir()
    common = ["--bins=64", f"--output={output / 'thresholds.json'}"]
    second = [f"--scores={parts / 'second_scores.csv'}", "--labels=missing.csv"]
    errors = ["labels: file not found: missing.csv"] * 2
    errors[0] += " (on process 1)"
    if case == "other classes":  # the same columns, named in another order
        for name in ("scores", "labels"):
            rows = (parts / f"second_{name}.csv").read_text().split("\n", 1)[1]
            (tmp_path / f"{name}.csv").write_text(",".join(NAMES[::-1]) + "\n" + rows)
        second = [f"--scores={tmp_path / 'scores.csv'}", f"--labels={tmp_path / 'labels.csv'}"]
        errors = [
            "class_names: the classes of process 1 are not those of process 0 (other names or "
            "another order); every process must fit the same classes"
        ] * 2
    ran = run_tool_processes(
        [
            [f"--scores={parts / 'first.npz'}", f"--labels={parts / 'first.npz'}", *common],
            [*second, *common],
        ],
        cwd=tmp_path,
    )
    assert [r.returncode for r in ran] == [2, 2], [r.stderr[-3000:] for r in ran]
    for process, error in enumerate(errors):
        assert own_lines(ran[process].stderr) == [f"jaxthresh: error: {error}"]
        assert own_lines(ran[process].stdout) == []
    assert os.listdir(output) == []


def _process_flags(*extra):
    return ["fit", "--scores=s.npy", "--labels=l.npy", "--output=o.json", *extra]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            _process_flags("--num_processes=2", "--process_id=0", "--bins=64"),
            "coordinator_address: --coordinator_address, --num_processes and --process_id go "
            "together; --coordinator_address is missing",
        ),
        (
            _process_flags("--coordinator_address=h:1", "--num_processes=2", "--process_id=2"),
            r"process_id: must be from 0 to 1 \(--num_processes=2\), got 2",
        ),
        (
            _process_flags("--coordinator_address=h:1", "--num_processes=0", "--process_id=0"),
            "num_processes: must be >= 1",
        ),
        (
            _process_flags("--coordinator_address=host", "--num_processes=2", "--process_id=0"),
            "coordinator_address: expected host:port, got 'host'",
        ),
        *(
            (
                _process_flags(
                    "--coordinator_address=h:1", "--num_processes=2", "--process_id=1", given
                ),
                f"{given[2:].split('=')[0]}: --{given[2:].split('=')[0]} needs every row in "
                "one process",
            )
            for given in ("--cv_folds=3", "--bootstrap=10", "--plot_dir=plots")
        ),
        (
            _process_flags("--distributed", "--num_processes=2"),
            "distributed: --distributed finds the processes in the cluster's environment; "
            r"give it or .* not both \(--num_processes given\)",
        ),
        (
            ["apply", "--scores=s.npy", "--thresholds=t.json", "--num_processes=2"],
            r"num_processes: --num_processes is not a flag of apply \(only of fit\)",
        ),
    ],
)
def test_process_flags_are_checked_before_joining(arguments, message):
    ran = cli(*arguments)
    assert ran.returncode == 2, ran.stderr
    assert re.fullmatch(f"jaxthresh: error: {message}.*\n", ran.stderr), ran.stderr
    assert not jax.distributed.is_initialized()


def test_distributed_outside_a_cluster_is_one_error_line(tmp_path):
    # --distributed reads the cluster from the environment; here there is none.
    env = {"PATH": os.environ.get("PATH", ""), "JAX_PLATFORMS": "cpu"}
    ran = subprocess.run(
        [SCRIPT, *_process_flags("--distributed", "--bins=64")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert ran.returncode == 2, ran.stderr
    lines = own_lines(ran.stderr)
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith("jaxthresh: error: distributed: cannot join the other processes: ")
