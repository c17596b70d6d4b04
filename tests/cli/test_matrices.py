"""CSV files as pandas writes them: an index column, bool labels; read by the tool, their
class names reach thresholds.json. The tool's --folds flag (fit_auto's inner folds)."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from jaxthresh.cli import matrices
from tests.cli.test_reliability import cli, refused
from tests.conftest import random_problem

NAMES = ["dog", "cat", "speech, outdoors"]  # a name that CSV must quote
SCORES, LABELS = random_problem(62, rows=30, classes=3)
SCRIPT = os.path.join(os.path.dirname(sys.executable), "jaxthresh")


@pytest.fixture
def frames(tmp_path, monkeypatch):
    index = pd.Index([f"clip{i}.wav" for i in range(30)])
    scores = pd.DataFrame(SCORES, columns=NAMES, index=index)
    labels = pd.DataFrame(LABELS, columns=NAMES, index=index)  # bool: True and False
    scores.to_csv(tmp_path / "scores.csv")
    labels.to_csv(tmp_path / "labels.csv")
    scores.to_csv(tmp_path / "plain.csv", index=False)
    scores.to_csv(tmp_path / "named_index.csv", index_label="clip")
    labels.iloc[::-1].to_csv(tmp_path / "reversed.csv")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_data_frame_saved_with_its_index_reads_back(frames):
    scores = matrices.load_matrix(frames / "scores.csv", name="scores")
    assert scores.class_names == NAMES
    assert scores.row_names == [f"clip{i}.wav" for i in range(30)]
    np.testing.assert_array_equal(scores.values.astype(np.float32), SCORES)
    plain = matrices.load_matrix(frames / "plain.csv", name="scores")
    assert plain.class_names == NAMES and plain.row_names is None
    np.testing.assert_array_equal(plain.values, scores.values)
    labels = matrices.load_matrix(frames / "labels.csv", name="labels")
    np.testing.assert_array_equal(labels.values, LABELS.astype(np.float64))
    matrices.check_same_rows(scores, labels, "labels", "scores")
    matrices.check_same_rows(plain, labels, "labels", "scores")  # one side without names


def test_rows_in_another_order_are_refused(frames):
    scores = matrices.load_matrix(frames / "scores.csv", name="scores")
    reversed_labels = matrices.load_matrix(frames / "reversed.csv", name="labels")
    with pytest.raises(
        ValueError,
        match=r"labels: row 0 is 'clip29\.wav' in the labels but 'clip0\.wav' in the scores",
    ):
        matrices.check_same_rows(scores, reversed_labels, "labels", "scores")


def test_words_where_numbers_belong_are_named(frames):
    with pytest.raises(
        ValueError, match=r"line 2, column 2 holds '(True|False)', which is not a number"
    ):
        matrices.load_matrix(frames / "labels.csv", name="scores")  # True: labels only
    with pytest.raises(
        ValueError,
        match=r"column 1 holds 'clip0.wav', which is not a number \(a first column of row "
        r"names needs an empty header cell\)",
    ):
        matrices.load_matrix(frames / "named_index.csv", name="scores")


def test_the_tool_names_classes_after_the_columns(frames):
    ran = cli(
        "fit",
        f"--scores={frames / 'scores.csv'}",
        f"--labels={frames / 'labels.csv'}",
        "--method=exact",
        f"--output={frames / 't.json'}",
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads((frames / "t.json").read_text())["class_names"] == NAMES


def test_folds_is_a_flag_of_auto_only(frames):
    refused(
        frames,
        [
            "fit",
            "--scores=plain.csv",
            "--labels=labels.csv",
            "--folds=iterative",
            "--output=o.json",
        ],
        "folds: method 'sgl' does not take --folds",
    )


def test_a_bad_folds_value_from_the_installed_script(frames):
    ran = subprocess.run(
        [
            SCRIPT,
            "fit",
            "--scores=plain.csv",
            "--labels=labels.csv",
            "--method=auto",
            "--folds=stratified",
            "--output=o.json",
        ],
        cwd=frames,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2
    assert ran.stderr.strip().splitlines() == [
        "jaxthresh: error: flag --folds=stratified: value should be one of <random|iterative> "
        "(see --help)"
    ]
    assert not (frames / "o.json").exists()
