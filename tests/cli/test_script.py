"""The installed ``jaxthresh`` script in new processes: a representative subset of the
refusals of ``test_reliability.py`` (there in-process; a FIFO only here, where a run that
opened it by mistake would block for a bounded time), warnings, per-command help, and
signals in the middle of writing a large predictions CSV.

Each run imports JAX afresh (about a second), so the bulk of the cases stays in-process.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxthresh.cli import thresholds_file as schema
from jaxthresh.cli import tool
from tests.cli.inprocess import run_main
from tests.cli.test_reliability import snapshot
from tests.conftest import random_problem, slow_except

SCRIPT = os.path.join(os.path.dirname(sys.executable), "jaxthresh")
NAMES = ["dog", "cat", "speech", "music"]


def script(*args, timeout=120):
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    scores, labels = random_problem(51, rows=30, classes=4)
    np.save(tmp_path / "s.npy", scores)
    np.save(tmp_path / "l.npy", labels)
    (tmp_path / "text.npy").write_text("0.1,0.2\n")
    os.mkfifo(tmp_path / "fifo.npy")
    os.symlink("s.npy", tmp_path / "link.npy")
    (tmp_path / "t.json").write_text(
        '{"format": "jaxthresh.thresholds", "format_version": 1, "method": "exact", '
        '"class_names": ["a", "b", "c", "d"], "thresholds": [[0.5], [0.5], [0.5], [0.5]]}'
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


REFUSED = {
    "output is a link to the scores": (
        ["fit", "--scores=s.npy", "--labels=l.npy", "--output=link.npy"],
        r"output: --output \(link.npy\) is the --scores file \(s.npy\)",
    ),
    "text named .npy": (
        ["fit", "--scores=text.npy", "--labels=l.npy", "--output=o.json"],
        r"scores: text.npy is not a NumPy \.npy file \(it starts with the text '0\.1,0\.2\\n'\)",
    ),
    "a FIFO": (
        ["fit", "--scores=fifo.npy", "--labels=l.npy", "--output=o.json"],
        r"scores: fifo.npy is not a regular file \(it is a FIFO\)",
    ),
    "nested thresholds": (
        ["apply", "--scores=s.npy", "--thresholds=t.json", "--output=p.csv"],
        r"thresholds: t.json: 'thresholds\[0\]' must be a number \(the list must be flat\)",
    ),
}


@pytest.mark.parametrize("case", slow_except(list(REFUSED), list(REFUSED)[:2]))
def test_refused_by_the_installed_script(folder, case):
    import re

    arguments, message = REFUSED[case]
    before = snapshot(folder)
    ran = script(*arguments, timeout=60)  # a FIFO opened by mistake would block: bounded
    lines = ran.stderr.strip().splitlines()
    assert ran.returncode == 2, ran.stderr
    assert len(lines) == 1 and re.match(rf"jaxthresh: error: {message}", lines[0]), ran.stderr
    assert snapshot(folder) == before


def test_help_of_a_command_from_the_installed_script():
    ran = script("apply", "-h")
    assert ran.returncode == 0 and ran.stderr == "", ran.stderr
    assert ran.stdout.startswith("jaxthresh apply: ")
    for flag in tool.flags_of("apply"):
        assert f"--{flag}:" in ran.stdout or f"--[no]{flag}:" in ran.stdout, flag
    assert "--method" not in ran.stdout and "--init" not in ran.stdout  # fit's flags


def test_a_fit_warning_is_one_line_and_status_0(folder):
    labels = np.load(folder / "l.npy")
    labels[:, 1] = False
    np.save(folder / "l1.npy", labels)
    ran = script("fit", "--scores=s.npy", "--labels=l1.npy", "--method=exact", "--output=o.json")
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr.splitlines() == [
        "jaxthresh: warning: labels: no positive rows in 1 class (1): there is nothing to "
        "find there, and their thresholds only avoid false positives"
    ]
    assert (folder / "o.json").is_file()


# -- Signals while writing a large CSV. ---------------------------------------------------

CLASSES = 1000


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """Scores of 20,000 x 1,000 (80 MB; a 40 MB predictions CSV) and their thresholds."""
    folder = tmp_path_factory.mktemp("large")
    rng = np.random.default_rng(0)
    np.save(folder / "scores.npy", rng.random((20_000, CLASSES), np.float32))
    schema.write_thresholds(
        folder / "t.json",
        schema.ThresholdsRecord(
            method="default",
            hyperparameters={},
            objective="f1",
            average="micro",
            class_names=schema.default_class_names(CLASSES),
            thresholds=np.full(CLASSES, 0.5, np.float32),
            slopes=None,
            score=0.5,
            n_rows=1,
        ),
    )
    return folder


def _temporaries(folder) -> list[str]:
    return [name for name in os.listdir(folder) if name.startswith(".p.csv.jaxthresh-")]


def _signal_while_writing(folder, command, signum):
    """Starts ``command`` and sends it ``signum`` as soon as its temporary file appears;
    returns its status, its stderr, and whether the signal came during the write."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    during = False
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if _temporaries(folder):
            process.send_signal(signum)
            during = True
            break
        time.sleep(0.001)
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    return process.returncode, stderr, during


@pytest.mark.parametrize(
    "signum", slow_except([signal.SIGTERM, signal.SIGINT, signal.SIGKILL], [signal.SIGKILL])
)
def test_a_signal_while_writing_leaves_the_old_output_and_no_temporary(large, tmp_path, signum):
    """SIGTERM ends the process as it would have, SIGINT is one line and status 130; both
    remove the temporary file. SIGKILL cannot be caught: its temporary file stays, and the
    next write beside it removes it."""
    output = tmp_path / "p.csv"
    arguments = [f"--scores={large / 'scores.npy'}", f"--thresholds={large / 't.json'}"]
    arguments += [f"--output={output}"]
    if signum == signal.SIGINT:  # Python ignores SIGINT if started ignoring it (a CI shell)
        command = [
            sys.executable,
            "-c",
            "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "sys.argv[0] = 'jaxthresh'; from jaxthresh.cli.tool import main; main()",
        ]
    else:
        command = [SCRIPT]
    for _ in range(3):  # the write lasts about 0.1 s; should it end first, try again
        output.write_text("old predictions\n")
        status, stderr, during = _signal_while_writing(
            tmp_path, [*command, "apply", *arguments], signum
        )
        if during:
            break
    assert during, f"the write ended before the signal: {status}, {stderr}"
    if signum == signal.SIGINT:
        assert (status, stderr.splitlines()) == (130, ["jaxthresh: error: interrupted"])
    else:
        assert status == -signum, stderr
    left = _temporaries(tmp_path)
    if signum == signal.SIGKILL:
        assert len(left) == 1
    else:
        assert left == []
        # The old file, unless the signal came in the microseconds after the rename.
        assert output.read_text() == "old predictions\n" or _complete(output), stderr
    if signum != signal.SIGKILL:
        return
    ran = run_main(tool.main, ["jaxthresh", "apply", *arguments])
    assert ran.returncode == 0, ran.stderr
    assert _temporaries(tmp_path) == []
    assert _complete(output)


def _complete(path) -> bool:
    """Whether ``path`` holds the whole predictions CSV."""
    with open(path) as stream:
        header = stream.readline()
        lines = sum(1 for _ in stream)
    return header.startswith("class_0,class_1,") and lines == 20_000


# -- Flags of issue 12: constraints, --beta, --cv_folds, --curves; --objective, --utility. --


def test_new_flags_are_in_the_help_of_the_installed_script():
    fit, evaluate = script("fit", "--help"), script("evaluate", "--help")
    assert fit.returncode == evaluate.returncode == 0, fit.stderr + evaluate.stderr
    for flag in ("min_precision", "min_recall", "objective", "beta", "utility", "cv_folds"):
        assert f"--{flag}:" in fit.stdout, flag
    assert "Methods: constrained;" in fit.stdout  # --min_precision names its method
    for flag in ("curves", "curve_bins"):
        assert f"--{flag}:" in evaluate.stdout, flag


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--min_precision=1.5"], r"min_precision: must be in \(0, 1\], got 1.5"),
        pytest.param(
            ["--min_precision=0.5", "--min_recall=0.5"],
            "min_precision, min_recall: give exactly one of min_precision and min_recall "
            "to method 'constrained', got both",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            ["--method=exact", "--beta=0"],
            "beta: fbeta's beta must be between 0.0001 and 10000, got 0.0",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            ["--method=exact", "--utility=0,0,0,0"],
            "utility: utility's coefficients are all 0: every threshold ties",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_bad_values_of_new_fit_flags_are_one_line(folder, arguments, message):
    fit = ["fit", "--scores=s.npy", "--labels=l.npy", "--output=o.json"]
    if not any(a.startswith("--method") for a in arguments):
        fit.append("--method=constrained")
    ran = script(*fit, *arguments)
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.splitlines() == [f"jaxthresh: error: {message}".replace("\\", "")]
    assert not (folder / "o.json").exists()
