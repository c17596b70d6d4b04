"""fit_record: a fit made in Python, recorded as the tool records its own (class names from
pandas DataFrame columns), written and read back."""

import os

import numpy as np
import pandas as pd
import pytest

import jaxthresh
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
    assert read.fit_f1 == pytest.approx(weighted, abs=1e-6)
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
