"""experiments/decoding.py: eval F1 of fitted thresholds with at least one label per row."""

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

BINARY = str(PROJECT_ROOT / "experiments" / "decoding.py")


def _run(*arguments):
    return subprocess.run(
        [sys.executable, BINARY, *arguments], capture_output=True, text=True, timeout=300
    )


# A subprocess on a real benchmark: run by .ci/run with the heavier tests.
@pytest.mark.slow
def test_decoding_binary(benchmark_dir, tmp_path):
    output = tmp_path / "decoding.json"
    ran = _run(
        "--dataset=dcase2019",
        "--methods=exact",
        f"--data_dir={benchmark_dir}",
        f"--output={output}",
    )
    assert ran.returncode == 0, ran.stderr
    assert "| dcase2019 | exact | " in ran.stdout
    report = json.loads(output.read_text())
    assert (report["min_labels"], report["max_labels"]) == (1, None)
    figures = report["results"]["dcase2019"]["exact"]
    assert figures["rows_without_prediction_before"] > 0
    assert figures["rows_without_prediction_after"] == 0
    assert 0 < figures["micro_f1_after"] < 100 and 0 < figures["macro_f1_after"] < 100
    bad = _run("--dataset=dcase2019", "--min_labels=11", f"--data_dir={benchmark_dir}")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "decoding.py: error: min_labels: 11 labels per row are more than the 10 classes"
    ]
