"""Plots (the optional plot extra; CI installs it, so these run there)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import jaxthresh
from jaxthresh import plots
from tests.conftest import random_problem

matplotlib_image = pytest.importorskip("matplotlib.image")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_valid_nonblank_png(path):
    with open(path, "rb") as stream:
        assert stream.read(8) == PNG_SIGNATURE, path
    pixels = matplotlib_image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    # Not one flat colour: something was drawn.
    assert pixels[..., :3].std() > 0.05, path
    assert len(np.unique(pixels[..., :3].reshape(-1, 3), axis=0)) > 10, path


def test_library_plots(tmp_path):
    scores, labels = random_problem(31, rows=200, classes=5)
    fit = jaxthresh.fit_sgl(scores, labels, init=0.5, epochs=30)
    exact = jaxthresh.fit_exact(scores, labels)
    paths = [
        plots.learning_curves({"sgl": fit.history}, str(tmp_path), "curves.png"),
        plots.thresholds_by_frequency(
            {"sgl": fit.thresholds, "exact": exact.thresholds}, labels, str(tmp_path), "t.png"
        ),
        plots.f1_against_threshold(scores, labels, fit.thresholds, str(tmp_path), "f1.png"),
    ]
    for path in paths:
        assert_valid_nonblank_png(path)
    assert sorted(os.listdir(tmp_path)) == ["curves.png", "f1.png", "t.png"]


def test_cli_fit_plot_dir(tmp_path):
    scores, labels = random_problem(32, rows=100, classes=3)
    np.save(tmp_path / "s.npy", scores)
    np.save(tmp_path / "y.npy", labels)
    script = os.path.join(os.path.dirname(sys.executable), "jaxthresh")
    result = subprocess.run(
        [
            script,
            "fit",
            f"--scores={tmp_path / 's.npy'}",
            f"--labels={tmp_path / 'y.npy'}",
            f"--output={tmp_path / 't.json'}",
            f"--plot_dir={tmp_path / 'plots'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    names = sorted(os.listdir(tmp_path / "plots"))
    assert names == ["f1_against_threshold.png", "learning_curve.png", "thresholds.png"]
    for name in names:
        assert_valid_nonblank_png(tmp_path / "plots" / name)


def test_table2_plot_dir(benchmark_dir, tmp_path):
    table2 = os.path.join(os.path.dirname(__file__), os.pardir, "experiments", "table2.py")
    result = subprocess.run(
        [
            sys.executable,
            table2,
            "--dataset=dcase2019",
            "--methods=sgl,exact",
            f"--data_dir={benchmark_dir}",
            f"--plot_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    names = sorted(os.listdir(tmp_path))
    assert names == [
        "dcase2019_f1.png",
        "dcase2019_learning_curves.png",
        "dcase2019_thresholds.png",
    ]
    for name in names:
        assert_valid_nonblank_png(tmp_path / name)
