import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxthresh import fused, metrics
from jaxthresh.sgl import sgl_fit_weighted, sgl_hyperparameters
from tests.conftest import random_problem


def _inputs(seed, rows=70, classes=4, ties=True):
    scores, labels = random_problem(seed, rows=rows, classes=classes, ties=ties)
    weights = (np.random.default_rng(seed).random(rows) < 0.8).astype(np.int32)
    return scores, labels, weights


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), threshold=st.floats(-0.25, 1.25, width=32))
def test_counts_are_the_exact_counts(seed, threshold):
    scores, labels, weights = _inputs(seed)
    thresholds = np.full(scores.shape[1], threshold, np.float32)
    thresholds[0] = scores[3, 0]  # a threshold equal to a score: that score is negative
    masked, positive = fused.masked_scores(scores, labels, weights)
    true_positives, predicted = jax.jit(fused.fused_counts)(masked, positive, thresholds)
    expected = metrics.confusion_counts(labels, scores > thresholds, weights)
    np.testing.assert_array_equal(true_positives, expected.true_positives)
    np.testing.assert_array_equal(predicted, expected.predicted_positives)
    assert true_positives.dtype == predicted.dtype == jnp.int32


def test_block_sums_count_exactly():
    values = (np.random.default_rng(0).random((37, 3)) < 0.5).astype(np.float32)
    blocked = fused._column_sum(jnp.asarray(values), block_rows=8)
    np.testing.assert_array_equal(blocked, values.sum(axis=0).astype(np.int32))


@pytest.mark.parametrize("average", ["micro", "macro"])
@pytest.mark.parametrize("learn_slope", [True, False])
def test_gradient_is_the_autodiff_gradient(average, learn_slope):
    scores, labels, weights = _inputs(5, rows=120, classes=5)
    thresholds = np.linspace(0.2, 0.6, 5).astype(np.float32)
    slopes = np.linspace(5.0, 60.0, 5).astype(np.float32)
    beta = 0.7

    def objective(thresholds, slopes):
        return metrics.surrogate_fbeta(
            scores, labels, thresholds, slopes, average=average, beta=beta, row_weights=weights
        )

    expected = jax.grad(objective, argnums=(0, 1))(thresholds, slopes)
    masked, positive = fused.masked_scores(scores, labels, weights)
    counts = fused.fused_counts(masked, positive, thresholds)
    positives = metrics.confusion_counts(labels, labels, weights).positives

    def fbeta(true_positives, predicted):
        counts = metrics.Counts(true_positives, predicted, positives)
        return metrics.fbeta_from_counts(counts, average=average, beta=beta)

    weights_tp, weights_pp = jax.grad(fbeta, argnums=(0, 1))(
        *[c.astype(jnp.float32) for c in counts]
    )
    got = fused.fused_gradient(
        masked,
        labels.astype(np.float32),
        thresholds,
        slopes,
        weights_tp,
        weights_pp,
        learn_slope=learn_slope,
    )
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-4, atol=1e-7)
    if learn_slope:
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-4, atol=1e-8)
    else:
        np.testing.assert_array_equal(got[1], 0.0)


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_fused_fit_gives_the_autodiff_thresholds(average):
    scores, labels, weights = _inputs(7, rows=150, classes=6, ties=False)
    arrays, static = sgl_hyperparameters(6, init=0.4, epochs=60, average=average)
    fused_fit = sgl_fit_weighted(scores, labels, weights, **arrays, **static)
    autodiff = sgl_fit_weighted(scores, labels, weights, **arrays, **static, fused_epoch=False)
    np.testing.assert_allclose(fused_fit.thresholds, autodiff.thresholds, atol=1e-5)
    np.testing.assert_allclose(fused_fit.slopes, autodiff.slopes, rtol=1e-4)
    np.testing.assert_allclose(fused_fit.history, autodiff.history, atol=1e-6)


def test_one_at_a_time_matches_batched_semantics_in_nested_vmaps():
    calls = fused.one_at_a_time(lambda x, y: jnp.sum(x * y, axis=0))
    x = np.arange(2 * 3 * 5 * 4, dtype=np.float32).reshape(2, 3, 5, 4)
    y = np.linspace(0, 1, 20, dtype=np.float32).reshape(5, 4)
    got = jax.jit(jax.vmap(jax.vmap(calls, in_axes=(0, None)), in_axes=(0, None)))(x, y)
    np.testing.assert_allclose(got, np.sum(x * y, axis=2), rtol=1e-6)


def test_one_at_a_time_handles_pytree_arguments():
    calls = fused.one_at_a_time(lambda pair, z: jnp.sum(pair[0] * pair[1], axis=0) + z)
    x = np.arange(3 * 5 * 2, dtype=np.float32).reshape(3, 5, 2)
    y = np.linspace(0, 1, 10, dtype=np.float32).reshape(5, 2)
    z = np.float32(2.0)
    got = jax.vmap(calls, in_axes=((0, None), None))((x, y), z)
    np.testing.assert_allclose(got, np.sum(x * y, axis=1) + z, rtol=1e-6)


def test_rows_counted_several_times_give_the_fit_of_repeated_rows():
    scores, labels, _ = _inputs(9, rows=120, classes=4, ties=False)
    weights = np.random.default_rng(9).integers(0, 4, 120).astype(np.int32)
    arrays, static = sgl_hyperparameters(4, init=0.4, epochs=40)
    weighted = sgl_fit_weighted(scores, labels, weights, **arrays, **static)
    repeated = np.repeat(np.arange(120), weights)
    ones = np.ones(len(repeated), np.int32)
    expected = sgl_fit_weighted(scores[repeated], labels[repeated], ones, **arrays, **static)
    np.testing.assert_allclose(weighted.thresholds, expected.thresholds, atol=1e-5)
    np.testing.assert_allclose(weighted.history, expected.history, atol=1e-6)
