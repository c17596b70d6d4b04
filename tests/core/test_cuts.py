import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh.core.cuts import (
    above_all,
    column_cuts,
    counts_above,
    descending_keys,
    from_order_keys,
    order_keys,
    threshold_between,
)
from tests.conftest import padded_problem, random_problem

MAX_VALUES = 30
MAX_ROWS = 16


_descending_keys = jax.jit(descending_keys)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        min_size=2,
        max_size=MAX_VALUES,
    )
)
def test_keys_order_like_exact_comparisons(values):
    """Under jit, with -0.0 and subnormals (which XLA on CPU compares as zero): keys
    order the values as NumPy compares them, and invert exactly."""
    # Repeating the values up to one length keeps every pair and compiles once.
    scores = np.resize(np.asarray(values, np.float32), MAX_VALUES)
    keys = np.asarray(_descending_keys(scores))
    np.testing.assert_array_equal(keys[:, None] < keys[None, :], scores[:, None] > scores[None, :])
    np.testing.assert_array_equal(
        keys[:, None] == keys[None, :], scores[:, None] == scores[None, :]
    )
    back = np.asarray(jax.jit(from_order_keys)(-keys))
    np.testing.assert_array_equal(back, scores)  # -0.0 comes back as 0.0, which is equal
    assert np.all(back.view(np.int32)[scores == 0] == 0)


def test_neighbouring_keys_are_neighbouring_floats():
    values = np.array([-1e-45, 0.0, 1e-45, -1.0, 1.0, 3e-39], np.float32)
    keys = np.asarray(order_keys(values))
    for value, key in zip(values, keys, strict=True):
        above, below = np.asarray(from_order_keys(np.array([key + 1, key - 1], np.int32)))
        assert above == np.nextafter(value, np.float32(np.inf))
        assert below == np.nextafter(value, np.float32(-np.inf))


@jax.jit
def _counts_above(scores, labels, weights, thresholds):
    return counts_above(column_cuts(scores.T, labels.T, weights[None, :]), thresholds)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, MAX_ROWS), st.sampled_from([1, 4]), st.booleans())
def test_counts_above_equal_confusion_counts(seed, rows, classes, ties):
    # Padding rows (weight 0, random scores) keep one compilation per number of classes;
    # columns are independent, so one class and four cover every case.
    scores, labels, kept, _ = padded_problem(seed, rows, classes, max_rows=MAX_ROWS, ties=ties)
    rng = np.random.default_rng(seed)
    weights = (rng.integers(0, 3, MAX_ROWS) * kept).astype(np.int32)
    # Thresholds at, between, above and below the scores.
    candidates = np.concatenate([scores.ravel(), scores.ravel() + 0.01, [-5.0, 5.0]])
    for _ in range(5):
        thresholds = rng.choice(candidates, classes).astype(np.float32)
        expected = jaxthresh.confusion_counts(labels, scores > thresholds, weights)
        got = _counts_above(scores, labels, weights, thresholds)
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)


def test_threshold_between_separates():
    upper = np.array([0.5, 1.0, np.nextafter(np.float32(0.2), np.float32(1))], np.float32)
    lower = np.array([0.25, -np.inf, 0.2], np.float32)
    t = np.asarray(threshold_between(jnp.asarray(upper), jnp.asarray(lower)))
    assert np.all(upper > t) and np.all(t >= lower)


def test_above_all_predicts_nothing():
    highest = jnp.array([0.5, -3.0, 1e30], jnp.float32)
    nothing = np.asarray(above_all(highest))
    assert np.all(nothing > np.asarray(highest))
    assert np.all(np.isfinite(nothing))


def _row_cuts(scores, labels, weights):
    return column_cuts(scores.T, labels.T, weights[None, :])


_cuts = jax.jit(_row_cuts)
_batched_cuts = jax.vmap(_row_cuts, in_axes=(None, None, 0))


def test_cuts_are_shared_by_vmap_over_weights():
    scores, labels = random_problem(2, rows=30, classes=3)
    weights = np.stack([np.arange(30) % 2, np.ones(30)]).astype(np.int32)
    batched = jax.jit(_batched_cuts)(scores, labels, weights)
    for i, w in enumerate(weights):
        single = _cuts(scores, labels, w)
        np.testing.assert_array_equal(batched.predicted[i], single.predicted)
        np.testing.assert_array_equal(batched.valid[i], single.valid)
    # Sorting depends on the scores alone: vmap over the weights sorts once, unbatched.
    jaxpr = str(jax.make_jaxpr(_batched_cuts)(scores, labels, weights))
    assert "sort" in jaxpr
    sorts = [line for line in jaxpr.splitlines() if " sort[" in line]
    assert sorts and all(":i32[3,30] = sort[" in line for line in sorts)


@jax.jit
def _counts_of_bool_and_float_weights(scores, labels, kept, fractions, thresholds):
    return [
        counts_above(column_cuts(scores.T, labels.T, weights[None, :]), thresholds)
        for weights in (kept, fractions)
    ]


def test_bool_and_float_weights_count_in_their_dtype():
    scores, labels = random_problem(6, rows=20, classes=2, ties=True)
    thresholds = np.array([0.4, 0.6], np.float32)
    kept = np.arange(20) % 3 > 0
    fractions = (np.arange(20) % 3).astype(np.float32) / 4
    got = _counts_of_bool_and_float_weights(scores, labels, kept, fractions, thresholds)
    for counts, weights, dtype in zip(
        got, (kept, fractions), (jnp.int32, jnp.float32), strict=True
    ):
        expected = jaxthresh.confusion_counts(labels, scores > thresholds, weights)
        for a, b in zip(counts, expected, strict=True):
            assert a.dtype == dtype
            np.testing.assert_array_equal(a, b)
