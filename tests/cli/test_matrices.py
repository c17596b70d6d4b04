"""CSV files as pandas writes them: an index column, bool labels; read by the tool, their
class names reach thresholds.json, their rows are matched by name. Cells that are not
numbers, named with their likely cause. The tool's --folds flag (fit_auto's inner folds)."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import jaxthresh
from jaxthresh.cli import matrices
from tests.cli.test_reliability import cli, refused
from tests.conftest import random_problem

NAMES = ["dog", "cat", "speech, outdoors"]  # a name that CSV must quote
SCORES, LABELS = random_problem(62, rows=30, classes=3)
CLIPS = [f"clip{i}.wav" for i in range(30)]
SCRIPT = os.path.join(os.path.dirname(sys.executable), "jaxthresh")


@pytest.fixture
def frames(tmp_path, monkeypatch):
    index = pd.Index(CLIPS)
    scores = pd.DataFrame(SCORES, columns=NAMES, index=index)
    labels = pd.DataFrame(LABELS, columns=NAMES, index=index)  # bool: True and False
    scores.to_csv(tmp_path / "scores.csv")
    labels.to_csv(tmp_path / "labels.csv")
    scores.to_csv(tmp_path / "plain.csv", index=False)
    scores.to_csv(tmp_path / "named_index.csv", index_label="clip")
    labels.iloc[::-1].to_csv(tmp_path / "reversed.csv")
    labels.sample(frac=1, random_state=3).to_csv(tmp_path / "shuffled.csv")
    labels.iloc[:-1].to_csv(tmp_path / "fewer.csv")  # no clip29.wav
    pd.concat([labels, labels.iloc[:1].rename(index={"clip0.wav": "extra.wav"})]).to_csv(
        tmp_path / "more.csv"
    )
    # 0/1 values: scores or labels.
    labels.astype(int).rename(index={"clip7.wav": "clip3.wav"}).to_csv(tmp_path / "repeated.csv")
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
    assert matrices.match_rows(scores, labels) is labels  # in order: no copy
    reversed_labels = matrices.load_matrix(frames / "reversed.csv", name="labels")
    assert matrices.match_rows(plain, reversed_labels) is reversed_labels  # by position


@pytest.mark.parametrize("file", ["reversed.csv", "shuffled.csv"])
def test_rows_in_another_order_are_matched_by_name(frames, file):
    scores = matrices.load_matrix(frames / "scores.csv", name="scores")
    labels = matrices.match_rows(scores, matrices.load_matrix(frames / file, name="labels"))
    np.testing.assert_array_equal(labels.values, LABELS.astype(np.float64))
    assert labels.row_names == scores.row_names


ROW_PROBLEMS = {
    "a row missing from the labels": (
        "scores.csv",
        "fewer.csv",
        r"labels: fewer\.csv has no row 'clip29\.wav', which the scores \(scores\.csv\) have; "
        r"rows are matched by the row names of the first CSV column$",
    ),
    "a row missing from the scores": (
        "scores.csv",
        "more.csv",
        r"scores: scores\.csv has no row 'extra\.wav', which the labels \(more\.csv\) have",
    ),
    "a row name twice in the labels": (
        "scores.csv",
        "repeated.csv",
        r"labels: repeated\.csv names two rows 'clip3\.wav' \(data rows 4 and 8\); row names "
        r"must be unique to match the rows of the scores by name$",
    ),
    "a row name twice in the scores": (
        "repeated.csv",
        "labels.csv",
        r"scores: repeated\.csv names two rows 'clip3\.wav' \(data rows 4 and 8\); .* rows of "
        r"the labels by name$",
    ),
}


@pytest.mark.parametrize("case", list(ROW_PROBLEMS))
def test_rows_that_do_not_match_by_name_are_named(frames, case):
    scores_file, labels_file, message = ROW_PROBLEMS[case]
    scores = matrices.load_matrix(scores_file, name="scores")
    labels = matrices.load_matrix(labels_file, name="labels")
    with pytest.raises(ValueError, match=message):
        matrices.match_rows(scores, labels)


@pytest.mark.parametrize("case", list(ROW_PROBLEMS))
@pytest.mark.parametrize("command", ["fit", "evaluate"])
def test_the_tool_refuses_rows_that_do_not_match_by_name(frames, command, case):
    scores_file, labels_file, message = ROW_PROBLEMS[case]
    tail = ["--output=o.json"] if command == "fit" else ["--thresholds=t.json"]
    if command == "evaluate":
        _fit(frames, "labels.csv", "t.json")
    refused(
        frames,
        [command, f"--scores={scores_file}", f"--labels={labels_file}", *tail],
        rf"^jaxthresh: error: {message}",
    )


def _fit(frames, labels_file, output, scores_file="scores.csv"):
    arguments = [f"--scores={scores_file}", f"--labels={labels_file}", "--method=exact"]
    return cli("fit", *arguments, f"--output={frames / output}")


@pytest.mark.parametrize("file", ["reversed.csv", "shuffled.csv"])
def test_the_tool_matches_rows_by_name(frames, file):
    """fit and evaluate give the same answer on labels in another order as on aligned ones;
    labels with row names beside scores without pair by position."""
    aligned, reordered = _fit(frames, "labels.csv", "a.json"), _fit(frames, file, "r.json")
    assert aligned.returncode == reordered.returncode == 0, reordered.stderr
    assert aligned.stdout.replace("a.json", "r.json") == reordered.stdout
    fitted = [json.loads((frames / name).read_text()) for name in ("a.json", "r.json")]
    assert fitted[0]["thresholds"] == fitted[1]["thresholds"]
    assert (
        fitted[0]["score"]
        == fitted[1]["score"]
        == pytest.approx(
            jaxthresh.f1_score(LABELS, SCORES > np.asarray(fitted[0]["thresholds"])), abs=1e-6
        )
    )
    evaluate = [
        cli("evaluate", "--scores=scores.csv", f"--labels={name}", "--thresholds=a.json")
        for name in ("labels.csv", file)
    ]
    assert evaluate[0].returncode == 0 and evaluate[0].stdout == evaluate[1].stdout
    by_position = _fit(frames, file, "p.json", scores_file="plain.csv")
    assert by_position.returncode == 0, by_position.stderr
    labels = pd.read_csv(file, index_col=0).to_numpy()
    fit = jaxthresh.fit_exact(SCORES, labels)
    thresholds = json.loads((frames / "p.json").read_text())["thresholds"]
    np.testing.assert_array_equal(np.asarray(thresholds, np.float32), fit.thresholds)


def _yes_no(frame):
    return frame.replace({True: "yes", False: "no"})


#: name: (how the file is written, read as, header, the message's end).
NOT_NUMBERS = {
    "';' and an index": (
        lambda: pd.DataFrame(SCORES).to_csv("x.csv", sep=";"),
        "scores",
        True,
        r"line 2, column 1 holds '0;0\.\d+;.*', which is not a number \(the file seems to be "
        r"delimited by ';'; only commas separate values\)",
    ),
    "';' and bool labels": (
        lambda: pd.DataFrame(LABELS).to_csv("x.csv", sep=";", index=False),
        "labels",
        True,
        r"line 2, column 1 holds '(True|False);.*', which is not a number \(the file seems to be "
        r"delimited by ';'; only commas separate values\)",
    ),
    "';' and decimal commas": (
        lambda: pd.DataFrame(SCORES).to_csv("x.csv", sep=";", decimal=",", index=False),
        "scores",
        True,
        r"line 2 has 4 values, the header has 1 \(the file seems to be delimited by ';'; only "
        r"commas separate values\)",
    ),
    "';' on a long line": (
        lambda: pd.DataFrame(np.tile(SCORES, 4)).to_csv("x.csv", sep=";"),
        "scores",
        True,
        r"line 2, column 1 holds '0;0\.\d+;[^']{20,}'\.\.\., which is not a number \(the file "
        r"seems to be delimited by ';'; only commas separate values\)",
    ),
    "tabs": (
        lambda: pd.DataFrame(SCORES).to_csv("x.csv", sep="\t", index=False),
        "scores",
        True,
        r"line 2, column 1 holds .*, which is not a number \(the file seems to be delimited by "
        r"tabs; only commas separate values\)",
    ),
    "yes and no labels": (
        lambda: _yes_no(pd.DataFrame(LABELS, columns=NAMES)).to_csv("x.csv", index=False),
        "labels",
        True,
        r"line 2, column 1 holds '(yes|no)', which is not a number \(labels must be 0/1 or "
        r"True/False\)",
    ),
    "yes and no labels with an index": (
        lambda: _yes_no(pd.DataFrame(LABELS, columns=NAMES)).to_csv("x.csv"),
        "labels",
        True,
        r"line 2, column 2 holds '(yes|no)', which is not a number \(labels must be 0/1 or "
        r"True/False\)",
    ),
    "yes and no in the first column of labels only": (
        lambda: (
            pd.DataFrame(LABELS.astype(int), columns=NAMES)
            .assign(dog=["yes", "no"] * 15)
            .to_csv("x.csv", index=False)
        ),
        "labels",
        True,
        r"line 2, column 1 holds 'yes', which is not a number \(labels must be 0/1 or "
        r"True/False\)",
    ),
    "bool scores": (
        lambda: pd.DataFrame(LABELS, columns=NAMES).to_csv("x.csv", index=False),
        "scores",
        True,
        r"line 2, column 1 holds '(True|False)', which is not a number",
    ),
    "an index under a named header cell": (
        lambda: pd.DataFrame(SCORES, index=CLIPS).to_csv("x.csv", index_label="clip"),
        "scores",
        True,
        r"line 2, column 1 holds 'clip0\.wav', which is not a number \(a first column of row names "
        r"needs an empty header cell\)",
    ),
    "an index without a header": (
        lambda: pd.DataFrame(LABELS.astype(int), index=CLIPS).to_csv("x.csv", header=False),
        "labels",
        False,
        r"line 1, column 1 holds 'clip0\.wav', which is not a number \(a first column of row names "
        r"needs "
        r"an empty header cell\)",
    ),
    "a header read as data": (
        lambda: pd.DataFrame(SCORES, columns=NAMES).to_csv("x.csv", index=False),
        "scores",
        False,
        r"line 1, column 1 holds 'dog', which is not a number \(the first row looks like a "
        r"header of class names: drop --no_header\)",
    ),
}


@pytest.mark.parametrize("case", list(NOT_NUMBERS))
def test_cells_that_are_not_numbers_are_named_with_their_cause(frames, case):
    write, name, header, message = NOT_NUMBERS[case]
    write()
    with pytest.raises(ValueError, match=rf"^{name}: x\.csv {message}$"):
        matrices.load_matrix("x.csv", name=name, header=header)


def test_a_delimiter_is_named_by_the_tool(frames):
    pd.DataFrame(SCORES, index=CLIPS).to_csv("x.csv", sep=";")
    refused(
        frames,
        ["fit", "--scores=x.csv", "--labels=labels.csv", "--output=o.json"],
        r"^jaxthresh: error: scores: x\.csv line 2, column 1 holds .* \(the file seems to be "
        r"delimited by ';'; only commas separate values\)$",
    )


def test_boolean_labels_in_any_case(frames):
    text = (frames / "labels.csv").read_text()
    (frames / "upper.csv").write_text(text.replace("True", "TRUE").replace("False", "false"))
    labels = matrices.load_matrix("upper.csv", name="labels")
    np.testing.assert_array_equal(labels.values, LABELS.astype(np.float64))


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


@pytest.mark.parametrize("scores_file", ["scores.csv", "plain.csv"])
def test_apply_keeps_the_row_names_of_the_scores(frames, scores_file):
    """Predictions of scores with row names carry them (a first column under an empty
    header cell, which pandas reads back as the index); without row names, none."""
    assert _fit(frames, "labels.csv", "t.json").returncode == 0
    ran = cli("apply", f"--scores={scores_file}", "--thresholds=t.json", "--output=p.csv")
    assert ran.returncode == 0, ran.stderr
    thresholds = np.asarray(json.loads((frames / "t.json").read_text())["thresholds"])
    expected = SCORES > thresholds.astype(np.float32)
    if scores_file == "plain.csv":
        back = pd.read_csv("p.csv")
        assert list(back.columns) == NAMES
    else:
        back = pd.read_csv("p.csv", index_col=0)
        assert back.index.tolist() == CLIPS and list(back.columns) == NAMES
        assert (frames / "p.csv").read_text().startswith(",dog,cat,")  # an empty first cell
    np.testing.assert_array_equal(back.to_numpy(), expected.astype(int))


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_row_names_are_written_quoted_in_every_block(tmp_path, dtype):
    names = ["a", "b,c", 'q"d', "e"]
    values = np.arange(8).reshape(4, 2) % 2
    blocks = [values[:3].astype(dtype), values[3:].astype(dtype)]
    matrices.write_matrix(tmp_path / "m.csv", values.shape, dtype, blocks, ["x", "y"], names)
    back = matrices.load_matrix(tmp_path / "m.csv", name="scores")
    assert back.row_names == names and back.class_names == ["x", "y"]
    np.testing.assert_array_equal(back.values, values)
    matrices.write_matrix(tmp_path / "m.npy", values.shape, dtype, blocks, ["x", "y"], names)
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), values)
