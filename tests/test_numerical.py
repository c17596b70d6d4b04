import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh.numerical import (
    finite_difference_gradient,
    moved_scores,
    numerical_fit_weighted,
    numerical_hyperparameters,
)
from tests.conftest import random_problem


def _reference_gradient(scores, labels, thresholds, step, max_search, average):
    """The published definition: re-score everything for each class and each retry."""
    base = jaxthresh.f1_score(labels, scores > thresholds, average=average)
    gradient = np.zeros(scores.shape[1])
    for c in range(scores.shape[1]):
        for j in range(1, max_search + 1):
            moved = thresholds.copy()
            moved[c] = np.float32(thresholds[c] + np.float32(step) * np.float32(j))
            change = jaxthresh.f1_score(labels, scores > moved, average=average) - base
            if change != 0:
                gradient[c] = change / (j * step)
                break
    return gradient


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["micro", "macro"]), st.booleans())
def test_gradient_equals_the_published_definition(seed, average, ties):
    scores, labels = random_problem(seed, rows=25, classes=4, ties=ties)
    thresholds = np.random.default_rng(seed).uniform(0.2, 0.8, 4).astype(np.float32)
    step, max_search = 0.02, 5
    moves = np.float32(step) * np.arange(max_search + 1, dtype=np.float32)[:, None]
    counts = jax.vmap(lambda m: jaxthresh.confusion_counts(labels, scores > thresholds + m))(moves)
    gradient = finite_difference_gradient(moved_scores(counts, average, 1.0), np.float32(step))
    expected = _reference_gradient(scores, labels, thresholds, step, max_search, average)
    np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-5)


def test_plain_jit_and_vmap_agree():
    scores, labels = random_problem(3, rows=120, classes=5)
    arrays, static = numerical_hyperparameters(5, init=0.4, epochs=30)
    folds = np.stack([np.arange(120) % 2 == f for f in (0, 1)]).astype(np.int32)
    batched = jax.vmap(lambda w: numerical_fit_weighted(scores, labels, w, **arrays, **static))(
        folds
    )
    for fold, weights in enumerate(folds):
        jitted = numerical_fit_weighted(scores, labels, weights, **arrays, **static)
        with jax.disable_jit():
            plain = numerical_fit_weighted(scores, labels, weights, **arrays, **static)
        np.testing.assert_allclose(plain.thresholds, jitted.thresholds, atol=1e-6)
        np.testing.assert_allclose(batched.thresholds[fold], jitted.thresholds, atol=1e-6)


def test_history_ends_at_the_score_of_the_thresholds():
    scores, labels = random_problem(4, rows=200, classes=6)
    result = jaxthresh.fit_numerical(scores, labels, init=0.5, epochs=50)
    assert result.history.shape == (50,)
    reached = jaxthresh.f1_score(labels, jaxthresh.apply_thresholds(scores, result.thresholds))
    assert float(result.history[-1]) == pytest.approx(reached, abs=1e-6)
    assert reached > jaxthresh.f1_score(labels, scores > 0.5)


def test_input_checks():
    scores, labels = random_problem(5, rows=10, classes=2)
    with pytest.raises(ValueError, match="step: must be finite and > 0"):
        jaxthresh.fit_numerical(scores, labels, init=0.5, step=0.0)
    with pytest.raises(ValueError, match="max_search: must be >= 1"):
        jaxthresh.fit_numerical(scores, labels, init=0.5, max_search=0)
