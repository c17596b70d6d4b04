"""Plots (the optional plot extra; CI installs it, so these run there). The plots of
experiments/table2.py are checked in tests/experiments/test_paper.py."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import jaxthresh
from jaxthresh.cli import plots
from tests.cli.png import assert_valid_nonblank_png
from tests.conftest import random_problem

# The tool prints the library's FitWarnings as lines (what these tests check): let them
# reach it as warnings, not as the errors the suite makes of them elsewhere.
pytestmark = pytest.mark.filterwarnings("default::jaxthresh.core.diagnostics.FitWarning")


pytest.importorskip("matplotlib.image")

# One problem shape and one configuration for every fit here: sgl compiles once.
ROWS, CLASSES, EPOCHS = 200, 5, 30


def test_library_plots(tmp_path):
    scores, labels = random_problem(31, rows=ROWS, classes=CLASSES)
    fit = jaxthresh.fit_sgl(scores, labels, epochs=EPOCHS)
    exact = jaxthresh.fit_exact(scores, labels)
    paths = [
        plots.learning_curves({"sgl": fit.history}, str(tmp_path), "curves.png"),
        plots.thresholds_by_frequency(
            {"sgl": fit.thresholds, "exact": exact.thresholds}, labels, str(tmp_path), "t.png"
        ),
        plots.f1_against_threshold(scores, labels, fit.thresholds, str(tmp_path), "f1.png"),
        plots.precision_recall(scores, labels, fit.thresholds, str(tmp_path), "pr.png"),
    ]
    for path in paths:
        assert_valid_nonblank_png(path)
    assert sorted(os.listdir(tmp_path)) == ["curves.png", "f1.png", "pr.png", "t.png"]


def test_the_marked_operating_point_is_the_chosen_thresholds():
    scores, labels = random_problem(33, rows=ROWS, classes=CLASSES)
    curves = jaxthresh.threshold_curves(scores, labels)
    lowest = scores.min(axis=0)
    for thresholds in (jaxthresh.fit_exact(scores, labels).thresholds, lowest - 1, lowest):
        for c in range(CLASSES):
            point = plots.operating_point(curves, c, thresholds[c])
            predicted = scores[:, c] > np.float32(thresholds[c])
            found = np.count_nonzero(predicted & labels[:, c])
            assert int(curves.true_positives[c, point]) == found
            assert int(curves.predicted[c, point]) == np.count_nonzero(predicted)


def test_sweep_curves(tmp_path):
    grid = {
        "slope": np.array([5.0, 50.0, 5.0, 50.0]),
        "learning_rate": np.array([0.01] * 2 + [0.1] * 2),
    }
    heldout = np.array([[0.5, 0.6], [0.55, 0.62], [0.4, 0.5], [0.6, 0.7]])
    paths = plots.sweep_curves(grid, heldout, str(tmp_path), "bench")
    assert [os.path.basename(p) for p in paths] == ["bench_slope.png", "bench_learning_rate.png"]
    for path in paths:
        assert_valid_nonblank_png(path)


def test_cli_fit_plot_dir(tmp_path):
    """The installed script in a new process: a whole fit, its plots and its thresholds,
    which are the library's."""
    scores, labels = random_problem(32, rows=ROWS, classes=CLASSES)
    np.save(tmp_path / "s.npy", scores)
    np.save(tmp_path / "y.npy", labels)
    script = os.path.join(os.path.dirname(sys.executable), "jaxthresh")
    result = subprocess.run(
        [
            script,
            "fit",
            f"--scores={tmp_path / 's.npy'}",
            f"--labels={tmp_path / 'y.npy'}",
            f"--epochs={EPOCHS}",
            f"--output={tmp_path / 't.json'}",
            f"--plot_dir={tmp_path / 'plots'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"thresholds written to {tmp_path / 't.json'}" in result.stdout
    names = sorted(os.listdir(tmp_path / "plots"))
    assert names == [
        "f1_against_threshold.png",
        "learning_curve.png",
        "precision_recall.png",
        "thresholds.png",
    ]
    for name in names:
        assert_valid_nonblank_png(tmp_path / "plots" / name)
    record = json.loads((tmp_path / "t.json").read_text())
    expected = jaxthresh.fit_sgl(scores, labels, epochs=EPOCHS)
    np.testing.assert_allclose(record["thresholds"], expected.thresholds, rtol=1e-6)
