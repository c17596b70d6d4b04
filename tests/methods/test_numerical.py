import functools

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh import objectives
from jaxthresh.core.validation import Rows
from jaxthresh.methods import configure
from jaxthresh.methods.numerical import finite_difference_gradient, moved_scores
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


@functools.partial(jax.jit, static_argnames="average")
def _gradient(scores, labels, thresholds, moves, step, average):
    counts = jax.vmap(lambda m: jaxthresh.confusion_counts(labels, scores > thresholds + m))(moves)
    return finite_difference_gradient(moved_scores(counts, objectives.get("f1"), average), step)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["micro", "macro"]), st.booleans())
def test_gradient_equals_the_published_definition(seed, average, ties):
    scores, labels = random_problem(seed, rows=25, classes=4, ties=ties)
    thresholds = np.random.default_rng(seed).uniform(0.2, 0.8, 4).astype(np.float32)
    step, max_search = 0.02, 5
    moves = np.float32(step) * np.arange(max_search + 1, dtype=np.float32)[:, None]
    gradient = _gradient(scores, labels, thresholds, moves, np.float32(step), average)
    expected = _reference_gradient(scores, labels, thresholds, step, max_search, average)
    np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-5)


# The fits below share this problem and these settings (init is traced): one compilation.
ROWS, CLASSES, EPOCHS = 120, 5, 30


def _problem():
    return random_problem(3, rows=ROWS, classes=CLASSES)


@pytest.mark.slow  # what cross-validation runs: tests/test_selection.py compares its folds
def test_vmap_over_folds_agrees_with_single_fits():
    scores, labels = _problem()

    def fit(weights):
        config = configure("numerical", CLASSES, init=0.4, epochs=EPOCHS)
        return config.fit(Rows(scores, labels, weights))

    folds = np.stack([np.arange(ROWS) % 2 == f for f in (0, 1)])
    batched = jax.jit(jax.vmap(fit))(folds)
    for fold, weights in enumerate(folds):
        # The public fit is the jitted config.fit of one fold's rows.
        jitted = jaxthresh.fit_numerical(scores, labels, weights, init=0.4, epochs=EPOCHS)
        subset = jaxthresh.fit_numerical(scores[weights], labels[weights], init=0.4, epochs=EPOCHS)
        np.testing.assert_allclose(batched.thresholds[fold], jitted.thresholds, atol=1e-6)
        np.testing.assert_allclose(batched.history[fold], jitted.history, atol=1e-6)
        np.testing.assert_allclose(subset.thresholds, jitted.thresholds, atol=1e-6)
        np.testing.assert_allclose(subset.history, jitted.history, atol=1e-6)


@pytest.mark.slow
def test_the_unjitted_fit_equals_the_jitted_one():
    # Op by op, every primitive compiled on its own (~40-180 small compilations, the
    # cost of several fits), so slow; a few epochs of one fold.
    scores, labels = _problem()
    weights = np.arange(ROWS) % 2 == 0
    jitted = jaxthresh.fit_numerical(scores, labels, weights, init=0.4, epochs=5)
    with jax.disable_jit():
        config = configure("numerical", CLASSES, init=0.4, epochs=5)
        plain = config.fit(Rows(scores, labels, weights))
    np.testing.assert_allclose(plain.thresholds, jitted.thresholds, atol=1e-6)
    np.testing.assert_allclose(plain.history, jitted.history, atol=1e-6)


def test_history_ends_at_the_score_of_the_thresholds():
    scores, labels = _problem()
    result = jaxthresh.fit_numerical(scores, labels, init=0.5, epochs=EPOCHS)
    assert result.history.shape == (EPOCHS,)
    reached = jaxthresh.f1_score(labels, jaxthresh.apply_thresholds(scores, result.thresholds))
    assert float(result.history[-1]) == pytest.approx(reached, abs=1e-6)
    assert reached > jaxthresh.f1_score(labels, scores > 0.5)


def test_input_checks():
    scores, labels = random_problem(5, rows=10, classes=2)
    with pytest.raises(ValueError, match="step: must be finite and > 0"):
        jaxthresh.fit_numerical(scores, labels, init=0.5, step=0.0)
    with pytest.raises(ValueError, match="max_search: must be >= 1"):
        jaxthresh.fit_numerical(scores, labels, init=0.5, max_search=0)
