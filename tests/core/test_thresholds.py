import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxthresh
from jaxthresh.core.thresholds import apply_thresholds
from tests.conftest import candidate_thresholds, random_problem

SCORES = np.array([[0.2, 0.5, -1.0], [0.5, 0.7, 3.0], [0.9, 0.1, 0.0]], np.float32)


def test_public_apply_thresholds_is_the_core_one():
    assert jaxthresh.apply_thresholds is apply_thresholds


def test_strictly_greater_with_per_class_thresholds():
    predictions = apply_thresholds(SCORES, [0.2, 0.6, 0.0])
    assert predictions.dtype == jnp.bool_
    np.testing.assert_array_equal(
        predictions, [[False, False, False], [True, True, True], [True, False, False]]
    )


def test_scalar_threshold_is_shared():
    np.testing.assert_array_equal(apply_thresholds(SCORES, 0.5), SCORES > 0.5)
    np.testing.assert_array_equal(apply_thresholds(SCORES, np.float64(0.5)), SCORES > 0.5)
    np.testing.assert_array_equal(apply_thresholds(SCORES, 1), SCORES > 1)  # an int too


def test_inputs_of_every_kind():
    thresholds = np.array([0.3, 0.3, 0.3])
    expected = SCORES > 0.3
    for scores in (SCORES, SCORES.astype(np.float64), jnp.asarray(SCORES), SCORES.tolist()):
        np.testing.assert_array_equal(apply_thresholds(scores, thresholds), expected)
    np.testing.assert_array_equal(apply_thresholds(SCORES, jnp.asarray(thresholds)), expected)
    integers = np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(apply_thresholds(integers, 1), integers > 1)


def test_inside_jit_and_vmap():
    thresholds = np.array([[0.0, 0.0, 0.0], [0.5, 0.6, 0.0], [1.0, 1.0, 1.0]], np.float32)
    batched = jax.jit(jax.vmap(apply_thresholds, in_axes=(None, 0)))(SCORES, thresholds)
    for t, got in zip(thresholds, batched, strict=True):
        np.testing.assert_array_equal(got, SCORES > t)


def test_fitted_thresholds_reproduce_the_fit_score():
    scores, labels = random_problem(0, rows=6, classes=3)
    fit = jaxthresh.fit("default", scores, labels)
    predictions = apply_thresholds(scores, fit.thresholds)
    assert jaxthresh.f1_score(labels, predictions) == pytest.approx(
        jaxthresh.f1_score(labels, scores > np.asarray(fit.threshold))
    )
    best = max(jaxthresh.f1_score(labels, scores > t) for t in candidate_thresholds(scores))
    assert jaxthresh.f1_score(labels, predictions) == pytest.approx(best)


@pytest.mark.parametrize(
    "scores, thresholds, message",
    [
        (np.array([[0.1, np.nan, 0.3]]), 0.5, r"scores: 1 value.* NaN or infinite"),
        (np.array([[0.1, np.inf]]), 0.5, "scores: .*NaN or infinite"),
        (SCORES[0], 0.5, "scores: expected a 2-D array"),
        (np.zeros((0, 3)), 0.5, "scores: is empty"),
        (SCORES + 1j, 0.5, "scores: expected real numbers"),
        (SCORES, [0.5, 0.5], r"thresholds: expected a scalar or one value per class \(3\)"),
        (SCORES, np.full((3, 3), 0.5), "thresholds: expected a scalar or one value per class"),
        (SCORES, np.nan, "thresholds: must be finite"),
        (SCORES, 1e39, "thresholds: must be finite as float32"),
        (SCORES, True, "thresholds: expected a real number"),
        (SCORES, "0.5", "thresholds: expected a real number"),
        (SCORES, 0.5 + 1j, "thresholds: expected a real number"),
    ],
)
def test_checks(scores, thresholds, message):
    with pytest.raises(ValueError, match=message):
        apply_thresholds(scores, thresholds)
