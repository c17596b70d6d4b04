"""The installed `jaxthresh` console script, end to end."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import jaxthresh
from tests.conftest import random_problem

SCRIPT = os.path.join(os.path.dirname(sys.executable), "jaxthresh")
NAMES = ["dog", "cat", "speech", "music"]


def run(*args, env=None, cwd=None):
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def _write_csv(path, header, values):
    lines = [",".join(header)] + [",".join(repr(float(v)) for v in row) for row in values]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The same fitting and new data as .npy, .npz and .csv files."""
    folder = tmp_path_factory.mktemp("inputs")
    scores, labels = random_problem(21, rows=150, classes=4)
    new_scores, new_labels = random_problem(22, rows=60, classes=4)
    np.save(folder / "scores.npy", scores)
    np.save(folder / "labels.npy", labels.astype(np.uint8))
    np.save(folder / "new_scores.npy", new_scores)
    np.save(folder / "new_labels.npy", new_labels.astype(np.uint8))
    np.savez(folder / "data.npz", s=scores, y=labels.astype(np.uint8), class_names=NAMES)
    np.savez(folder / "new.npz", s=new_scores, y=new_labels.astype(np.uint8))
    _write_csv(folder / "scores.csv", NAMES, scores)
    _write_csv(folder / "labels.csv", NAMES, labels.astype(int))
    _write_csv(folder / "new_scores.csv", NAMES, new_scores)
    _write_csv(folder / "new_labels.csv", NAMES, new_labels.astype(int))
    return folder, (scores, labels, new_scores, new_labels)


FORMATS = {
    "npy": (
        ["--scores=scores.npy", "--labels=labels.npy"],
        ["--scores=new_scores.npy"],
        ["--labels=new_labels.npy"],
    ),
    "npz": (
        ["--scores=data.npz", "--labels=data.npz", "--scores_key=s", "--labels_key=y"],
        ["--scores=new.npz", "--scores_key=s"],
        ["--labels=new.npz", "--labels_key=y"],
    ),
    "csv": (
        ["--scores=scores.csv", "--labels=labels.csv"],
        ["--scores=new_scores.csv"],
        ["--labels=new_labels.csv"],
    ),
}


@pytest.mark.parametrize("method", ["sgl", "exact", "numerical"])
def test_fit_with_bins_records_them_and_matches_the_library(inputs, tmp_path, method):
    folder, (scores, labels, _, _) = inputs
    output = tmp_path / "thresholds.json"
    fitted = run(
        "fit",
        "--scores=scores.npy",
        "--labels=labels.npy",
        f"--method={method}",
        "--bins=64",
        f"--output={output}",
        cwd=folder,
    )
    assert fitted.returncode == 0, fitted.stderr
    record = json.loads(output.read_text())
    assert record["hyperparameters"]["bins"] == 64
    extra = {} if method == "exact" else {"init": 0.5}
    expected = jaxthresh.fit(method, scores, labels, bins=64, **extra).thresholds
    np.testing.assert_allclose(record["thresholds"], expected, rtol=1e-6)
    bad = run(
        "fit",
        "--scores=scores.npy",
        "--labels=labels.npy",
        "--bins=0",
        "--output=x.json",
        cwd=folder,
    )
    assert bad.returncode == 2 and "bins: must be >= 1" in bad.stderr


@pytest.mark.parametrize("kind", sorted(FORMATS))
@pytest.mark.parametrize("method", ["sgl", "exact", "auto"])
def test_fit_apply_evaluate(inputs, tmp_path, kind, method):
    folder, (scores, labels, new_scores, new_labels) = inputs
    fit_inputs, new_inputs, new_labels_flag = FORMATS[kind]
    thresholds_path = tmp_path / "thresholds.json"
    fitted = run(
        "fit",
        *fit_inputs,
        f"--method={method}",
        "--init=0.4",
        f"--output={thresholds_path}",
        cwd=folder,
    )
    assert fitted.returncode == 0, fitted.stderr
    record = json.loads(thresholds_path.read_text())
    assert record["format"] == "jaxthresh.thresholds" and record["format_version"] == 1
    assert record["method"] == method and record["n_rows"] == 150
    assert record["class_names"] == (NAMES if kind != "npy" else [f"class_{i}" for i in range(4)])
    thresholds = np.asarray(record["thresholds"], np.float32)
    assert record["fit_f1"] == pytest.approx(jaxthresh.f1_score(labels, scores > thresholds))
    assert (record["slopes"] is None) == (method != "sgl")
    if method == "auto":
        assert record["hyperparameters"]["winner"] in jaxthresh.CANDIDATES
        assert "auto chose" in fitted.stdout

    for suffix in ("npy", "csv"):
        output = tmp_path / f"predictions.{suffix}"
        applied = run(
            "apply",
            *new_inputs,
            f"--thresholds={thresholds_path}",
            f"--output={output}",
            cwd=folder,
        )
        assert applied.returncode == 0, applied.stderr
        if suffix == "npy":
            predictions = np.load(output)
        else:
            predictions = np.loadtxt(output, delimiter=",", skiprows=1)
            assert output.read_text().splitlines()[0].split(",") == record["class_names"]
        np.testing.assert_array_equal(predictions, new_scores.astype(np.float32) > thresholds)

    evaluated = run(
        "evaluate",
        *new_inputs,
        *new_labels_flag,
        f"--thresholds={thresholds_path}",
        "--format=json",
        cwd=folder,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    rows = {row["name"]: row for row in json.loads(evaluated.stdout)}
    micro = jaxthresh.f1_score(new_labels, new_scores > thresholds)
    macro = jaxthresh.f1_score(new_labels, new_scores > thresholds, average="macro")
    assert rows["micro"]["f1"] == pytest.approx(micro)
    assert rows["macro"]["f1"] == pytest.approx(macro)
    assert rows[record["class_names"][0]]["support"] == int(new_labels[:, 0].sum())
    markdown = run(
        "evaluate", *new_inputs, *new_labels_flag, f"--thresholds={thresholds_path}", cwd=folder
    )
    assert "| micro |" in markdown.stdout and "| precision |" in markdown.stdout


def _bad_inputs(folder, tmp_path):
    """(arguments, message regex) pairs that must fail cleanly."""
    nan_scores = np.load(folder / "scores.npy")
    nan_scores[3, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan_scores)
    np.save(tmp_path / "three.npy", np.load(folder / "scores.npy")[:, :3])
    np.save(tmp_path / "short_labels.npy", np.load(folder / "labels.npy")[:10])
    (tmp_path / "scores.txt").write_text("1 2 3\n")
    (tmp_path / "broken.npy").write_bytes(b"not a numpy file")
    _write_csv(
        tmp_path / "renamed.csv",
        ["dog", "cow", "speech", "music"],
        np.load(folder / "new_scores.npy"),
    )
    good = tmp_path / "good.json"
    run(
        "fit",
        f"--scores={folder / 'scores.csv'}",
        f"--labels={folder / 'labels.csv'}",
        "--method=exact",
        f"--output={good}",
    )
    (tmp_path / "truncated.npz").write_bytes((folder / "data.npz").read_bytes()[:200])
    (tmp_path / "a_file").write_text("")
    _write_csv(
        tmp_path / "other_labels.csv", ["x", "y", "z", "w"], np.load(folder / "new_labels.npy")
    )
    fit = ["fit", f"--labels={folder / 'labels.npy'}"]
    return [
        ([*fit, f"--scores={tmp_path / 'truncated.npz'}"], "scores: cannot read"),
        (
            [*fit, f"--scores={folder / 'scores.npy'}", f"--plot_dir={tmp_path / 'a_file'}"],
            "plot_dir: cannot create",
        ),
        (
            [
                *fit,
                f"--scores={folder / 'scores.npy'}",
                "--method=dicho",
                "--seed=99999999999999999999",
            ],
            "seed: must be in",
        ),
        (
            [*fit, f"--scores={folder / 'scores.npy'}", "--epochs=100000000000"],
            "epochs: must be >= 1 and < 2",
        ),
        (
            [
                "evaluate",
                f"--scores={folder / 'new_scores.csv'}",
                f"--labels={tmp_path / 'other_labels.csv'}",
                f"--thresholds={good}",
            ],
            "labels: class 0 is 'x' in the labels but 'dog' in the scores",
        ),
        ([*fit, f"--scores={tmp_path / 'missing.npy'}"], "scores: file not found"),
        ([*fit, f"--scores={tmp_path / 'scores.txt'}"], "scores: unknown file type '.txt'"),
        ([*fit, f"--scores={tmp_path / 'broken.npy'}"], "scores: cannot read"),
        ([*fit, f"--scores={tmp_path / 'nan.npy'}"], "scores: 1 value.* NaN"),
        (
            [
                "fit",
                f"--scores={folder / 'scores.npy'}",
                f"--labels={tmp_path / 'short_labels.npy'}",
            ],
            "labels: shape",
        ),
        ([*fit, f"--scores={folder / 'scores.npy'}", "--method=magic"], "unknown method 'magic'"),
        ([*fit, f"--scores={folder / 'scores.npy'}", "--average=weighted"], "average"),
        (
            ["fit", f"--scores={folder / 'data.npz'}", f"--labels={folder / 'labels.npy'}"],
            "has no array 'scores'",
        ),
        (
            ["apply", f"--scores={tmp_path / 'three.npy'}", f"--thresholds={good}"],
            "the file has 4 classes, the scores have 3",
        ),
        (
            ["apply", f"--scores={tmp_path / 'renamed.csv'}", f"--thresholds={good}"],
            "class 1 is 'cat' in the file but 'cow' in the scores",
        ),
        (
            ["apply", f"--scores={folder / 'scores.npy'}", f"--thresholds={tmp_path / 'nan.npy'}"],
            "thresholds: cannot read",
        ),
        (
            ["evaluate", f"--scores={folder / 'scores.npy'}", f"--thresholds={good}"],
            "labels: --labels is required for evaluate",
        ),
        (["frobnicate"], "command: expected one of fit, apply, evaluate"),
        (["fit", "--no_such_flag=1"], "Unknown command line flag"),
    ]


def test_bad_input_is_one_line_status_2_and_no_output(inputs, tmp_path):
    folder, _ = inputs
    for arguments, message in _bad_inputs(folder, tmp_path):
        output = tmp_path / ("out.json" if arguments[0] == "fit" else "out.npy")
        result = run(*arguments, f"--output={output}")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (arguments, result.stderr)
        assert len(lines) == 1 and "error:" in lines[0], (arguments, result.stderr)
        assert re.search(message, lines[0]), (message, lines[0])
        assert not output.exists(), arguments


def test_plot_dir_without_matplotlib_is_one_line(inputs, tmp_path):
    folder, _ = inputs
    hide = tmp_path / "hide"
    (hide / "matplotlib").mkdir(parents=True)
    (hide / "matplotlib" / "__init__.py").write_text("raise ImportError('hidden for a test')\n")
    env = dict(os.environ, PYTHONPATH=str(hide))
    output = tmp_path / "t.json"
    result = run(
        "fit",
        f"--scores={folder / 'scores.npy'}",
        f"--labels={folder / 'labels.npy'}",
        f"--output={output}",
        f"--plot_dir={tmp_path / 'plots'}",
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "jaxthresh: error: plot_dir: plotting needs matplotlib; install the plot extra: "
        "pip install 'jaxthresh[plot]'"
    ]
    assert not output.exists()


def test_help_documents_every_flag():
    result = run("--help")  # absl's --help exits with status 1 after printing
    for flag in (
        "scores",
        "labels",
        "scores_key",
        "labels_key",
        "class_names",
        "method",
        "average",
        "init",
        "slope",
        "learning_rate",
        "epochs",
        "seed",
        "threshold",
        "thresholds",
        "output",
        "format",
        "plot_dir",
    ):
        assert f"--{flag}:" in result.stdout, flag


def test_output_that_is_a_folder_is_refused_before_fitting(inputs, tmp_path):
    folder, _ = inputs
    result = run(
        "fit",
        f"--scores={folder / 'scores.npy'}",
        f"--labels={folder / 'labels.npy'}",
        f"--output={tmp_path}",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"jaxthresh: error: output: {tmp_path} is a folder; give a file name"
    ]


def test_integer_class_names_round_trip(tmp_path):
    scores, labels = random_problem(24, rows=50, classes=3)
    np.savez(tmp_path / "d.npz", scores=scores, labels=labels, class_names=np.array([1, 2, 3]))
    fitted = run(
        "fit",
        f"--scores={tmp_path / 'd.npz'}",
        f"--labels={tmp_path / 'd.npz'}",
        "--method=exact",
        f"--output={tmp_path / 't.json'}",
    )
    assert fitted.returncode == 0, fitted.stderr
    applied = run(
        "apply",
        f"--scores={tmp_path / 'd.npz'}",
        f"--thresholds={tmp_path / 't.json'}",
        f"--output={tmp_path / 'p.npy'}",
    )
    assert applied.returncode == 0, applied.stderr
