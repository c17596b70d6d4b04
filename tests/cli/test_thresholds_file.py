"""fit_record: a fit made in Python, recorded as the tool records its own (class names from
pandas DataFrame columns), written and read back."""

import json
import os

import numpy as np
import pandas as pd
import pytest

import jaxthresh
from jaxthresh import objectives
from jaxthresh.cli import thresholds_file as schema
from tests.conftest import random_problem

NAMES = ["dog", "cat", "speech"]
SCORES, LABELS = random_problem(61, rows=40, classes=3)


def test_a_fit_on_data_frames_keeps_their_column_names(tmp_path):
    scores = pd.DataFrame(SCORES, columns=NAMES, index=[f"clip{i}" for i in range(40)])
    labels = pd.DataFrame(LABELS, columns=NAMES, index=scores.index)
    weights = np.random.default_rng(0).integers(1, 4, 40)
    fit = jaxthresh.fit_sgl(scores, labels, weights, init=0.4, epochs=5)
    record = schema.fit_record("sgl", scores, labels, fit, weights, init=0.4, epochs=5)
    schema.write_thresholds(tmp_path / "t.json", record)
    read = schema.read_thresholds(tmp_path / "t.json")
    assert read.class_names == NAMES
    np.testing.assert_array_equal(read.thresholds, fit.thresholds)
    np.testing.assert_array_equal(read.slopes, fit.slopes)
    assert read.hyperparameters["init"] == pytest.approx(0.4)
    assert read.hyperparameters["epochs"] == 5
    weighted = jaxthresh.f1_score(
        LABELS, SCORES > np.asarray(fit.thresholds), sample_weight=weights
    )
    assert read.score == pytest.approx(weighted, abs=1e-6)
    assert read.objective == "f1" and read.average == "micro"
    assert read.n_rows == 40
    # Scores in the class order of the record pass the tool's check.
    schema.check_classes(read, 3, list(scores.columns))


def test_names_without_data_frames():
    fit = jaxthresh.fit_exact(SCORES, LABELS)
    assert schema.fit_record("exact", SCORES, LABELS, fit).class_names == [
        "class_0",
        "class_1",
        "class_2",
    ]
    named = schema.fit_record("exact", SCORES, LABELS, fit, class_names=NAMES)
    assert named.class_names == NAMES and named.summary["score"] == pytest.approx(
        float(fit.score), abs=1e-6
    )
    labels = pd.DataFrame(LABELS, columns=NAMES)
    assert schema.fit_record("exact", SCORES, labels, fit).class_names == NAMES


def test_labels_of_other_columns_are_refused():
    scores = pd.DataFrame(SCORES, columns=NAMES)
    labels = pd.DataFrame(LABELS, columns=["cat", "dog", "speech"])
    fit = jaxthresh.fit_exact(scores, labels)
    with pytest.raises(ValueError, match="labels: column 0 is 'cat', but 'dog' in the scores"):
        schema.fit_record("exact", scores, labels, fit)
    with pytest.raises(ValueError, match="class_names: 2 names for 3 classes"):
        schema.fit_record("exact", SCORES, LABELS, fit, class_names=["a", "b"])


@pytest.mark.parametrize(
    "names, named",
    [
        (["class_0", "class_1", "class_2"], None),
        (("class_0",), None),
        (None, None),
        (["class_1", "class_0"], ["class_1", "class_0"]),  # not as generated: names
        (["class_0", "dog"], ["class_0", "dog"]),
        (NAMES, NAMES),
    ],
)
def test_generated_names_are_no_names(names, named):
    assert schema.named_classes(names) == named


def _record():
    fit = jaxthresh.fit_exact(SCORES, LABELS)
    return schema.fit_record("exact", SCORES, LABELS, fit, class_names=NAMES)


def test_unnamed_classes_pair_by_position_but_must_be_as_many():
    record = _record()._replace(class_names=schema.default_class_names(3))
    schema.check_classes(record, 3, NAMES)
    schema.check_classes(_record(), 3, schema.default_class_names(3))
    with pytest.raises(ValueError, match=r"^thresholds: class 0 is 'dog' in the file but 'cat'"):
        schema.check_classes(_record(), 3, ["cat", "dog", "speech"])
    with pytest.raises(
        ValueError, match=r"^thresholds: the file has 3 classes, the scores have 4$"
    ):
        schema.check_classes(record, 4)


def test_a_byte_order_mark_is_read(tmp_path):
    schema.write_thresholds(tmp_path / "t.json", _record())
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "t.json").read_bytes())
    plain, read = (schema.read_thresholds(tmp_path / name) for name in ("t.json", "bom.json"))
    assert read.class_names == NAMES and read.created == plain.created
    np.testing.assert_array_equal(read.thresholds, plain.thresholds)


@pytest.mark.parametrize("name, flag", [((), "path"), (("output",), "output")])
def test_writing_into_a_missing_folder_names_the_path(tmp_path, monkeypatch, name, flag):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        ValueError, match=rf"^{flag}: cannot write nodir/t\.json: folder nodir does not exist$"
    ):
        schema.write_thresholds("nodir/t.json", _record(), *name)
    assert os.listdir(tmp_path) == []


def _document(**changes) -> dict:
    """A version-2 file's document, with ``changes``."""
    return {
        "format": "jaxthresh.thresholds",
        "format_version": 2,
        "method": "exact",
        "hyperparameters": {},
        "objective": "f1",
        "average": "micro",
        "class_names": NAMES,
        "thresholds": [0.25, 0.5, 0.75],
        "slopes": None,
        "score": 0.5,
        "n_rows": 40,
        **changes,
    }


def _read(tmp_path, document):
    (tmp_path / "t.json").write_text(json.dumps(document))
    return schema.read_thresholds(tmp_path / "t.json")


@pytest.mark.parametrize(
    ("beta", "objective"), [(2.0, {"name": "fbeta", "beta": 2.0}), (1.0, "f1"), (None, "f1")]
)
def test_a_version_1_file_is_an_fbeta(tmp_path, beta, objective):
    """Version 1 had ``beta`` (1 when absent) and ``fit_f1`` where version 2 has
    ``objective`` and ``score``."""
    document = _document(format_version=1, fit_f1=0.625, average="macro")
    del document["objective"], document["score"]
    if beta is not None:
        document["beta"] = beta
    read = _read(tmp_path, document)
    assert read.objective == objective
    assert read.score == 0.625
    assert read.average == "macro" and read.method == "exact" and read.class_names == NAMES
    np.testing.assert_array_equal(read.thresholds, np.float32([0.25, 0.5, 0.75]))
    recorded = objectives.from_record(read.objective)
    assert recorded.name == "fbeta" and float(recorded.coefficients) == (beta or 1.0)
    # Written again, it is a version-2 file of the same objective and score.
    schema.write_thresholds(tmp_path / "again.json", read)
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["format_version"] == 2 and "beta" not in again and "fit_f1" not in again
    assert again["objective"] == objective and again["score"] == 0.625


@pytest.mark.parametrize(
    "objective",
    [
        "jaccard",
        "mcc",
        {"name": "fbeta", "beta": 0.5},
        {"name": "utility", "tp": 1.0, "fp": -0.2, "fn": -1.0, "tn": 0.0},
        {"name": "utility", "tp": [1.0, 2.0, 3.0], "fp": -0.5, "fn": -1.0, "tn": 0.0},
        {"name": "custom"},
    ],
    ids=["jaccard", "mcc", "fbeta", "utility", "per-class utility", "custom"],
)
def test_a_version_2_file_round_trips_its_objective_and_average(tmp_path, objective):
    record = _record()._replace(objective=objective, average="weighted", score=-1.5)
    schema.write_thresholds(tmp_path / "t.json", record)
    written = json.loads((tmp_path / "t.json").read_text())
    assert written["format_version"] == 2
    assert written["objective"] == objective and written["average"] == "weighted"
    read = schema.read_thresholds(tmp_path / "t.json")
    assert read.objective == objective and read.average == "weighted"
    assert read.score == -1.5  # a utility's score is no fraction


def test_fit_record_scores_the_objective_it_records():
    fit = jaxthresh.fit_exact(SCORES, LABELS, objective="jaccard", average="weighted")
    record = schema.fit_record(
        "exact", SCORES, LABELS, fit, objective="jaccard", average="weighted"
    )
    assert record.objective == "jaccard" and record.average == "weighted"
    assert record.hyperparameters["objective"] == "jaccard"
    predicted = SCORES > np.asarray(fit.thresholds)
    tp = np.count_nonzero(predicted & LABELS, axis=0)
    union = np.count_nonzero(predicted | LABELS, axis=0)
    per_class = np.where(union > 0, tp / np.where(union > 0, union, 1), 1.0)
    positives = LABELS.sum(axis=0)
    weighted = float(per_class @ positives / positives.sum())
    assert record.score == pytest.approx(weighted, abs=1e-6)
    f2 = schema.fit_record("exact", SCORES, LABELS, fit, objective=objectives.fbeta(2.0))
    assert f2.objective == {"name": "fbeta", "beta": 2.0}


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        (2, r"'objective' must be a name or an object with a 'name', got 2$"),
        (["f1"], r"'objective' must be a name or an object with a 'name', got a list$"),
        ({"beta": 2.0}, r"'objective' must be a name or an object with a 'name', got an object$"),
        ({"name": 2}, r"'objective' must be a name or an object with a 'name', got an object$"),
        (
            {"name": "fbeta", "beta": "2"},
            r"'objective\.beta' must be a finite number or a list of them, got the string '2'$",
        ),
        (
            {"name": "utility", "tp": 1.0, "fp": [True], "fn": 0.0, "tn": 0.0},
            r"'objective\.fp' must be a finite number or a list of them, got a list$",
        ),
    ],
    ids=["number", "list", "no name", "name a number", "beta a string", "fp booleans"],
)
def test_a_bad_objective_is_refused_naming_the_key(tmp_path, objective, message):
    with pytest.raises(ValueError, match=r"^thresholds: .*t\.json: " + message):
        _read(tmp_path, _document(objective=objective))
