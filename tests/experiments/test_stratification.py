"""experiments/stratification.py: random against iteratively stratified folds."""

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

BINARY = str(PROJECT_ROOT / "experiments" / "stratification.py")


def _run(*arguments):
    return subprocess.run(
        [sys.executable, BINARY, *arguments], capture_output=True, text=True, timeout=300
    )


# A subprocess on a real benchmark: run by .ci/run with the heavier tests.
@pytest.mark.slow
def test_stratification_binary(benchmark_dir, tmp_path):
    output = tmp_path / "folds.json"
    ran = _run(
        "--dataset=dcase2017",
        "--methods=default",
        "--n_folds=5",
        "--seeds=0",
        f"--data_dir={benchmark_dir}",
        f"--output={output}",
    )
    assert ran.returncode == 0, ran.stderr
    assert "| random | " in ran.stdout and "| iterative | " in ran.stdout
    report = json.loads(output.read_text())
    assert report["seeds"] == [0] and list(report["folds"]) == ["random", "iterative"]
    random, iterative = report["folds"]["random"], report["folds"]["iterative"]
    # dcase2017's 488 valid rows: 97 or 98 rows per random fold.
    assert (random["fewest_rows"], random["most_rows"]) == (97, 98)
    # Stratified, every class's positives spread over the folds more evenly.
    assert iterative["positive_spread_mean"] < random["positive_spread_mean"]
    assert 0 < iterative["default_mean"] < 100 and iterative["default_sd"] >= 0
    bad = _run("--seeds=a")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "stratification.py: error: seeds: expected comma-separated whole numbers >= 0, got ['a']"
    ]
