"""``jaxthresh evaluate --curves`` (the curves CSV) and the fit options of the same issue
(``--method=constrained``, ``--beta``, ``--cv_folds``; ``--objective``), in this process
(the installed script's help and refusals: test_script.py)."""

import csv
import os

import numpy as np
import pytest

import jaxthresh
from jaxthresh import objectives
from jaxthresh.cli import curves_file, tool
from jaxthresh.cli import thresholds_file as schema
from jaxthresh.core.diagnostics import FitWarning
from tests.cli.inprocess import run_main
from tests.cli.test_reliability import snapshot
from tests.conftest import random_problem

pytestmark = pytest.mark.filterwarnings("default::jaxthresh.core.diagnostics.FitWarning")

NAMES = ["dog", "cat, wild", "speech"]  # a name that CSV must quote


def cli(*args):
    return run_main(tool.main, ["jaxthresh", *map(str, args)])


@pytest.fixture
def folder(tmp_path, monkeypatch):
    scores, labels = random_problem(70, rows=40, classes=3, ties=True)
    np.savez(tmp_path / "d.npz", scores=scores, labels=labels, class_names=NAMES)
    monkeypatch.chdir(tmp_path)
    return tmp_path, scores, labels


def _fit(*flags):
    ran = cli("fit", "--scores=d.npz", "--labels=d.npz", "--output=t.json", *flags)
    assert ran.returncode == 0, ran.stderr
    return ran


def _read(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def test_constrained_fit_then_curves(folder):
    tmp_path, scores, labels = folder
    ran = _fit("--method=constrained", "--min_precision=0.8")
    with pytest.warns(FitWarning, match="min_precision: no threshold reaches") as caught:
        expected = jaxthresh.fit_constrained(scores, labels, min_precision=0.8, progress=True)
    assert ran.stderr.splitlines() == [f"jaxthresh: warning: {caught[0].message}"]
    record = schema.read_thresholds(tmp_path / "t.json")
    np.testing.assert_array_equal(record.thresholds, expected.thresholds)
    assert record.hyperparameters == {
        "min_precision": 0.8,
        "min_recall": None,
        "bins": None,
        "objective": "f1",
        "average": "micro",
    }
    assert record.objective == "f1"
    met = int(np.sum(expected.met))
    assert f"constrained: {met} of 3 classes reach precision >= 0.8" in ran.stdout
    assert record.summary["classes_met"] == met
    ran = cli(
        "evaluate", "--scores=d.npz", "--labels=d.npz", "--thresholds=t.json", "--curves=c.csv"
    )
    assert ran.returncode == 0, ran.stderr
    rows = _read(tmp_path / "c.csv")
    assert list(rows[0]) == list(curves_file.COLUMNS)
    objective = objectives.from_record(record.objective)
    curves = jaxthresh.threshold_curves(scores, labels, objective=objective)
    assert len(rows) == int(np.sum(curves.count))
    assert f"{len(rows)} curve points (every distinct score) -> c.csv" in ran.stdout
    for c, name in enumerate(NAMES):
        mine = [row for row in rows if row["class"] == name]
        count = int(curves.count[c])
        assert len(mine) == count
        for field in ("threshold", "precision", "recall", "score"):
            values = np.array([row[field] for row in mine], np.float32)  # exact round trip
            library = np.asarray(getattr(curves, field + "s" if field == "threshold" else field))
            np.testing.assert_array_equal(values, library[c, :count])
        for field in ("true_positives", "predicted"):
            values = np.array([row[field] for row in mine], np.int64)
            np.testing.assert_array_equal(values, np.asarray(getattr(curves, field))[c, :count])
        # Brute force: the counts of scores > threshold.
        thresholds = np.array([row["threshold"] for row in mine], np.float32)
        above = scores[:, c][None, :] > thresholds[:, None]
        np.testing.assert_array_equal(
            [int(row["true_positives"]) for row in mine], (above & labels[:, c]).sum(axis=1)
        )
        assert {row["support"] for row in mine} == {str(labels[:, c].sum())}


def test_curves_on_histogram_cells(folder):
    tmp_path, scores, labels = folder
    _fit("--method=exact", "--beta=2")
    ran = cli(
        "evaluate",
        "--scores=d.npz",
        "--labels=d.npz",
        "--thresholds=t.json",
        "--curves=c.csv",
        "--curve_bins=5",
        "--format=json",
    )
    assert ran.returncode == 0, ran.stderr
    assert "curve points" not in ran.stdout  # the JSON report stays one document
    rows = _read(tmp_path / "c.csv")
    curves = jaxthresh.threshold_curves(scores, labels, objective=objectives.fbeta(2.0), bins=5)
    assert len(rows) == int(np.sum(curves.count)) <= 3 * 6
    fbeta = np.array([row["score"] for row in rows], np.float32)
    np.testing.assert_array_equal(fbeta, np.asarray(curves.score)[np.asarray(curves.mask)])


def test_curve_bins_default_to_cells_for_large_scores():
    assert curves_file.curve_bins(None, 1000, 1000) is None
    assert curves_file.curve_bins(None, 1001, 1000) == curves_file.DEFAULT_BINS
    assert curves_file.curve_bins(0, 10**6, 10**3) is None
    assert curves_file.curve_bins(7, 10, 2) == 7


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--curves=d.npz"], "curves: the curves file must end in .csv"),
        (["--curves=t.csv", "--thresholds=t.csv"], r"curves: --curves \(t.csv\) is the"),
        (["--curves=c.csv", "--curve_bins=-1"], "curve_bins: must be >= 0"),
        (["--curve_bins=4"], "curve_bins: --curve_bins needs --curves"),
        (
            ["--curves=missing/c.csv"],
            r"curves: cannot write missing/c\.csv: folder missing does not exist$",
        ),
    ],
)
def test_bad_curves_flags_are_refused(folder, flags, message):
    import re

    tmp_path = folder[0]
    _fit("--method=exact")
    (tmp_path / "t.csv").write_text("x\n")
    before = snapshot(tmp_path)
    arguments = ["evaluate", "--scores=d.npz", "--labels=d.npz", "--thresholds=t.json", *flags]
    if "--thresholds=t.csv" in flags:
        arguments.remove("--thresholds=t.json")
    ran = cli(*arguments)
    assert ran.returncode == 2, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and re.match(rf"jaxthresh: error: {message}", lines[0]), lines
    assert snapshot(tmp_path) == before


def test_beta_is_fitted_and_reported(folder):
    tmp_path, scores, labels = folder
    ran = _fit("--method=exact", "--beta=0.5")
    expected = jaxthresh.fit_exact(scores, labels, objective=objectives.fbeta(0.5), progress=True)
    record = schema.read_thresholds(tmp_path / "t.json")
    np.testing.assert_array_equal(record.thresholds, expected.thresholds)
    assert record.objective == {"name": "fbeta", "beta": 0.5}
    assert f"exact: micro-F0.5 {100 * float(expected.score):.2f}%" in ran.stdout
    ran = cli("fit", "--scores=d.npz", "--labels=d.npz", "--output=o.json", "--beta=-1")
    assert ran.returncode == 2
    assert ran.stderr.splitlines() == [
        "jaxthresh: error: beta: fbeta's beta must be between 0.0001 and 10000, got -1.0"
    ]


def test_cv_folds_reports_how_far_thresholds_move(folder):
    tmp_path, scores, labels = folder
    ran = _fit("--method=exact", "--cv_folds=3")
    cv = jaxthresh.cross_validate(scores, labels, "exact", n_folds=3)
    spread = cv.threshold_spread()
    held = 100 * np.asarray(cv.heldout_score, np.float64)
    assert "3-fold cross-validation of exact on the same rows:" in ran.stdout
    assert f"held-out micro-F1 over 3 folds: {held.mean():.2f}%" in ran.stdout
    record = schema.read_thresholds(tmp_path / "t.json")
    for c, name in enumerate(NAMES):
        line = next(line for line in ran.stdout.splitlines() if line.startswith(f"| {name} |"))
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[1] == f"{record.thresholds[c]:.4g}"
        assert cells[2:6] == [
            f"{float(spread.mean[c]):.4g}",
            f"{float(spread.std[c]):.3g}",
            f"{float(spread.low[c]):.4g}",
            f"{float(spread.high[c]):.4g}",
        ]
        assert cells[6] == str(labels[:, c].sum())
    for bad, message in [("1", "cv_folds: must be >= 2"), ("41", "cv_folds: 41 folds need")]:
        ran = cli("fit", "--scores=d.npz", "--labels=d.npz", "--output=o.json", f"--cv_folds={bad}")
        assert ran.returncode == 2 and ran.stderr.startswith(f"jaxthresh: error: {message}")
        assert not os.path.exists(tmp_path / "o.json")


@pytest.mark.parametrize(
    "flag, per_class",
    [
        ("--objective=jaccard", lambda tp, fp, fn, tn: tp / np.maximum(tp + fp + fn, 1)),
        ("--utility=1,-0.5,-2,0.25", lambda tp, fp, fn, tn: tp - 0.5 * fp - 2 * fn + 0.25 * tn),
    ],
    ids=["jaccard", "utility"],
)
def test_the_score_column_is_the_files_objective(folder, flag, per_class):
    tmp_path, scores, labels = folder
    _fit("--method=exact", flag)
    ran = cli(
        "evaluate", "--scores=d.npz", "--labels=d.npz", "--thresholds=t.json", "--curves=c.csv"
    )
    assert ran.returncode == 0, ran.stderr
    rows = _read(tmp_path / "c.csv")
    for c, name in enumerate(NAMES):
        mine = [row for row in rows if row["class"] == name]
        assert mine
        thresholds = np.array([row["threshold"] for row in mine], np.float32)
        above = scores[:, c][None, :] > thresholds[:, None]
        positive = labels[:, c][None, :]
        tp, fp, fn, tn = (
            np.count_nonzero(mask, axis=1).astype(np.float64)
            for mask in (above & positive, above & ~positive, ~above & positive, ~above & ~positive)
        )
        expected = per_class(tp, fp, fn, tn)
        if flag == "--objective=jaccard":  # nothing to find, nothing predicted: 1
            expected = np.where(tp + fp + fn == 0, 1.0, expected)
        got = np.array([row["score"] for row in mine], np.float64)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
