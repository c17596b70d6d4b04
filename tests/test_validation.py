"""Every public entry point rejects bad input with a ValueError naming the argument."""

import numpy as np
import pytest

import jaxthresh
from tests.conftest import random_problem

SCORES, LABELS = random_problem(0, rows=6, classes=3)


def _with(index, value, array):
    array = np.array(array, dtype=float)
    array[index] = value
    return array


ENTRY_POINTS = {
    "fit_sgl": lambda s, y: jaxthresh.fit_sgl(s, y, init=0.5, epochs=2),
    "fit_default": lambda s, y: jaxthresh.fit_default(s, y),
    "cross_validate": lambda s, y: jaxthresh.cross_validate(s, y, init=0.5, epochs=2),
    "fit": lambda s, y: jaxthresh.fit("default", s, y, threshold=0.5),
}

BAD_INPUTS = [
    (_with((1, 2), np.nan, SCORES), LABELS, "scores: 1 value.* NaN or infinite"),
    (_with((0, 0), np.inf, SCORES), LABELS, "scores: .*NaN or infinite"),
    (SCORES[:, 0], LABELS, "scores: expected a 2-D array"),
    (SCORES, LABELS[:5], r"labels: shape \(5, 3\) does not match scores shape \(6, 3\)"),
    (SCORES, LABELS[:, 0], "labels: expected a 2-D array"),
    (SCORES, _with((2, 1), 2, LABELS), "labels: values must be 0 or 1, found 2"),
    (SCORES, _with((0, 0), 0.5, LABELS), "labels: values must be 0 or 1"),
    (np.zeros((0, 3)), np.zeros((0, 3)), "scores: is empty"),
    (np.array([["a", "b"]]), np.ones((1, 2)), "scores: expected a numeric array"),
]


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("scores, labels, message", BAD_INPUTS)
def test_bad_arrays(entry, scores, labels, message):
    with pytest.raises(ValueError, match=message):
        ENTRY_POINTS[entry](scores, labels)


def test_apply_thresholds_checks():
    with pytest.raises(ValueError, match=r"scores: .*NaN"):
        jaxthresh.apply_thresholds(_with((0, 0), np.nan, SCORES), 0.5)
    with pytest.raises(ValueError, match=r"thresholds: expected a scalar or one value per class"):
        jaxthresh.apply_thresholds(SCORES, [0.5, 0.5])
    with pytest.raises(ValueError, match="thresholds: must be finite"):
        jaxthresh.apply_thresholds(SCORES, np.nan)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_folds": 7}, "n_folds: 7 folds need at least 7 rows, got 6"),
        ({"n_folds": 1}, "n_folds: must be >= 2"),
        ({"n_folds": 2.5}, "n_folds: expected a whole number"),
        (
            {"method": "magic"},
            "method: unknown method 'magic'; known: default, dicho, numerical, sgl, exact, auto",
        ),
        ({"method": "default", "slope": 3.0}, "hyperparameters: method 'default' does not take"),
        ({"method": "sgl", "init": None, "slope": 3.0}, "init: expected a real number"),
        ({"method": ["sgl"]}, "method: unknown method"),
        ({"seed": 2**64}, r"seed: must be in \[0, 2\*\*32\)"),
        ({"seed": "x"}, "seed: expected a whole number"),
    ],
)
def test_cross_validate_checks(kwargs, message):
    kwargs = {"init": 0.5, **kwargs}
    if kwargs.get("method") == "default":
        del kwargs["init"]
    with pytest.raises(ValueError, match=message):
        jaxthresh.cross_validate(SCORES, LABELS, **kwargs)


def test_missing_init_is_named():
    with pytest.raises(ValueError, match="method 'sgl' needs init"):
        jaxthresh.cross_validate(SCORES, LABELS, method="sgl")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"init": [0.5, 0.5]}, r"init: expected a scalar or one value per class \(3\)"),
        ({"init": 0.5, "slope": -1.0}, "slope: must be > 0"),
        ({"init": 0.5, "learning_rate": 0.0}, "learning_rate: must be finite and > 0"),
        ({"init": 0.5, "epochs": 0}, "epochs: must be >= 1"),
        ({"init": 0.5, "epochs": 1.5}, "epochs: expected a whole number"),
        ({"init": 0.5, "average": "weighted"}, "average: must be one of micro, macro"),
        ({"init": 0.5, "beta": float("nan")}, "beta: must be finite and > 0"),
        ({"init": 0.5, "beta": 1e39}, "beta: must be finite and > 0 as float32"),
        ({"init": 1e39}, "init: must be finite as float32"),
        ({"init": 0.5 + 1j}, "init: expected a real number"),
        ({"init": 0.5, "learn_slope": "yes"}, "learn_slope: expected True or False"),
    ],
)
def test_fit_sgl_hyperparameter_checks(kwargs, message):
    with pytest.raises(ValueError, match=message):
        jaxthresh.fit_sgl(SCORES, LABELS, **kwargs)


def test_fit_default_checks():
    with pytest.raises(ValueError, match="threshold: must be finite"):
        jaxthresh.fit_default(SCORES, LABELS, threshold=float("inf"))
    with pytest.raises(ValueError, match="average"):
        jaxthresh.fit_default(SCORES, LABELS, average="samples")


def test_boolean_and_integer_labels_are_accepted():
    as_int = jaxthresh.fit_default(SCORES, LABELS.astype(np.int64))
    as_float = jaxthresh.fit_default(SCORES, LABELS.astype(np.float32))
    as_bool = jaxthresh.fit_default(SCORES, LABELS)
    np.testing.assert_array_equal(as_int.thresholds, as_bool.thresholds)
    np.testing.assert_array_equal(as_float.thresholds, as_bool.thresholds)


def test_complex_and_float32_overflowing_scores_are_refused():
    with pytest.raises(ValueError, match="scores: expected real numbers"):
        jaxthresh.fit_default(SCORES + 1j, LABELS)
    with pytest.raises(ValueError, match=r"scores: 1 value.* infinite as float32"):
        jaxthresh.fit_default(_with((0, 0), 1e39, SCORES), LABELS)


def test_f1_score_zero_division_is_checked():
    for bad in (float("nan"), 5, "x", None):
        with pytest.raises(ValueError, match="zero_division: expected a number in"):
            jaxthresh.f1_score(LABELS, LABELS, zero_division=bad)
