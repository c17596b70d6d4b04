import numpy as np
import pytest

import jaxthresh
from jaxthresh import crossval
from tests.conftest import random_problem


def test_every_point_equals_its_own_cross_validation():
    scores, labels = random_problem(41, rows=90, classes=3)
    before = crossval._sweep._cache_size()
    result = jaxthresh.sweep(
        scores, labels, init=0.4, epochs=20, slope=[10.0, 50.0], learning_rate=(1e-2, 3e-2)
    )
    assert crossval._sweep._cache_size() == before + 1  # one compiled call for all points
    assert result.heldout_f1.shape == (4, 3) and result.thresholds.shape == (4, 3, 3)
    np.testing.assert_array_equal(result.grid["slope"], [10, 10, 50, 50])
    np.testing.assert_array_equal(result.grid["learning_rate"], [1e-2, 3e-2, 1e-2, 3e-2])
    for point in range(4):
        single = jaxthresh.cross_validate(
            scores,
            labels,
            init=0.4,
            epochs=20,
            slope=float(result.grid["slope"][point]),
            learning_rate=float(result.grid["learning_rate"][point]),
        )
        np.testing.assert_allclose(result.thresholds[point], single.thresholds, atol=1e-5)
        np.testing.assert_allclose(result.heldout_f1[point], single.heldout_f1, atol=1e-6)


def test_sweep_other_methods_and_bad_grids():
    scores, labels = random_problem(42, rows=40, classes=2)
    numerical = jaxthresh.sweep(scores, labels, method="numerical", init=[0.3, 0.5], epochs=5)
    assert numerical.fit_f1.shape == (2, 3)
    with pytest.raises(ValueError, match="nothing to sweep"):
        jaxthresh.sweep(scores, labels, init=0.4)
    with pytest.raises(ValueError, match="epochs: cannot be swept"):
        jaxthresh.sweep(scores, labels, init=0.4, epochs=[5, 10])
    with pytest.raises(ValueError, match="slope: the list of values to sweep is empty"):
        jaxthresh.sweep(scores, labels, init=0.4, slope=[])
    with pytest.raises(ValueError, match="slope: must be > 0"):
        jaxthresh.sweep(scores, labels, init=0.4, slope=[10.0, -1.0])


def test_sweep_binary(benchmark_dir, tmp_path):
    import json
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    binary = [sys.executable, str(PROJECT_ROOT / "experiments" / "sweep.py")]
    output = tmp_path / "sweep.json"
    result = subprocess.run(
        [
            *binary,
            "--dataset=dcase2019",
            "--slope=20,50",
            "--learning_rate=0.01",
            f"--data_dir={benchmark_dir}",
            f"--output={output}",
            f"--plot_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "| 20 | 0.01 |" in result.stdout and "2 points x 3 folds" in result.stdout
    report = json.loads(output.read_text())
    assert report["grid"] == {"slope": [20.0, 50.0], "learning_rate": [0.01, 0.01]}
    assert len(report["heldout_f1"]) == 2 and len(report["heldout_f1"][0]) == 3
    assert (tmp_path / "dcase2019_slope.png").is_file()
    bad = subprocess.run([*binary, "--slope=a"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "sweep.py: error: slope: expected comma-separated numbers, got ['a']"
    ]


def test_sweep_keys_and_per_class_arrays():
    import jax

    scores, labels = random_problem(43, rows=40, classes=3)
    dicho = jaxthresh.sweep(
        scores, labels, method="dicho", key=jax.random.key(0), spread=[0.05, 0.1], steps=3
    )
    assert dicho.heldout_f1.shape == (2, 3)
    per_class = np.array([0.3, 0.4, 0.5])
    fixed = jaxthresh.sweep(scores, labels, init=per_class, slope=[10.0, 50.0], epochs=5)
    assert list(fixed.grid) == ["slope"] and fixed.heldout_f1.shape == (2, 3)
