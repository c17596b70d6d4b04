import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh._cuts import column_cuts, counts_above, descending_keys, threshold_between
from tests.conftest import random_problem


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=2, max_size=30)
)
def test_keys_order_like_compiled_comparisons(values):
    """Under jit, with -0.0 and subnormals: keys agree with XLA's own comparisons."""
    scores = jnp.asarray(np.asarray(values, np.float32))
    keys = np.asarray(jax.jit(descending_keys)(scores))
    greater = np.asarray(jax.jit(lambda s: s[:, None] > s[None, :])(scores))
    equal = np.asarray(jax.jit(lambda s: s[:, None] == s[None, :])(scores))
    np.testing.assert_array_equal(keys[:, None] < keys[None, :], greater)
    np.testing.assert_array_equal(keys[:, None] == keys[None, :], equal)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 15), st.integers(1, 4), st.booleans())
def test_counts_above_equal_confusion_counts(seed, rows, classes, ties):
    scores, labels = random_problem(seed, rows, classes, ties=ties)
    rng = np.random.default_rng(seed)
    weights = rng.integers(0, 3, rows).astype(np.int32)
    cuts = column_cuts(scores.T, labels.T, weights[None, :])
    # Thresholds at, between, above and below the scores.
    candidates = np.concatenate([scores.ravel(), scores.ravel() + 0.01, [-5.0, 5.0]])
    for _ in range(5):
        thresholds = rng.choice(candidates, classes).astype(np.float32)
        expected = jaxthresh.confusion_counts(labels, scores > thresholds, weights)
        for got, want in zip(counts_above(cuts, thresholds), expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_threshold_between_separates():
    upper = np.array([0.5, 1.0, np.nextafter(np.float32(0.2), np.float32(1))], np.float32)
    lower = np.array([0.25, -np.inf, 0.2], np.float32)
    t = np.asarray(threshold_between(jnp.asarray(upper), jnp.asarray(lower)))
    assert np.all(upper > t) and np.all(t >= lower)


def test_cuts_are_shared_by_vmap_over_weights():
    scores, labels = random_problem(2, rows=30, classes=3)
    weights = np.stack([np.arange(30) % 2, np.ones(30)]).astype(np.int32)
    batched = jax.vmap(lambda w: column_cuts(scores.T, labels.T, w[None, :]))(weights)
    for i, w in enumerate(weights):
        single = column_cuts(scores.T, labels.T, w[None, :])
        np.testing.assert_array_equal(batched.predicted[i], single.predicted)
        np.testing.assert_array_equal(batched.valid[i], single.valid)
