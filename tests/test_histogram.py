import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh.histogram import score_histogram
from tests.conftest import random_problem


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 40),
    st.integers(1, 4),
    st.booleans(),
    st.sampled_from([1, 2, 4, 16]),
)
def test_histogram_keeps_every_row_and_never_splits_ties(seed, rows, classes, ties, bins):
    scores, labels = random_problem(seed, rows, classes, ties=ties)
    weights = np.random.default_rng(seed).integers(0, 3, rows).astype(np.int32)
    histogram = score_histogram(scores, labels, weights, bins=bins)
    assert histogram.counts.shape == (classes, bins)
    np.testing.assert_array_equal(histogram.counts.sum(1), np.full(classes, weights.sum()))
    np.testing.assert_array_equal(histogram.positives.sum(1), (labels * weights[:, None]).sum(0))
    values = np.asarray(histogram.values)
    counts = np.asarray(histogram.counts)
    for c in range(classes):
        filled = values[c][counts[c] > 0]
        assert np.all(np.diff(filled) < 0)  # bin 0 highest; distinct scores per bin
        # Each bin's value is the weighted mean of its rows' scores.
        assert np.sum(filled * counts[c][counts[c] > 0]) == pytest.approx(
            np.sum(scores[:, c] * weights), rel=1e-5, abs=1e-5
        )


def test_histogram_path_matches_the_exact_path_on_small_data():
    # With more bins than distinct scores every bin holds one score: same problem exactly.
    scores, labels = random_problem(3, rows=60, classes=4, ties=True)
    exact_path = jaxthresh.fit_sgl(scores, labels, init=0.4, epochs=50)
    histogram_path = jaxthresh.fit_sgl(scores, labels, init=0.4, epochs=50, bins=512)
    np.testing.assert_allclose(histogram_path.thresholds, exact_path.thresholds, atol=1e-4)
    np.testing.assert_allclose(histogram_path.history, exact_path.history, atol=1e-6)


def test_histogram_path_close_on_larger_data():
    scores, labels = random_problem(4, rows=4000, classes=6)
    exact_path = jaxthresh.fit_sgl(scores, labels, init=0.4)
    histogram_path = jaxthresh.fit_sgl(scores, labels, init=0.4, bins=256)
    f1 = [
        jaxthresh.f1_score(labels, jaxthresh.apply_thresholds(scores, r.thresholds))
        for r in (exact_path, histogram_path)
    ]
    assert abs(f1[0] - f1[1]) < 0.005


def test_vmap_over_weights_builds_one_histogram_per_fold():
    scores, labels = random_problem(5, rows=50, classes=3)
    weights = np.stack([np.arange(50) % 2, np.ones(50)]).astype(np.int32)
    batched = jax.vmap(lambda w: score_histogram(scores, labels, w, bins=8))(weights)
    for i, w in enumerate(weights):
        single = score_histogram(scores, labels, w, bins=8)
        np.testing.assert_array_equal(batched.counts[i], single.counts)


def test_bin_of_one_repeated_score_takes_it_exactly():
    value = np.float32(0.28676885)  # not a dyadic fraction: a float32 mean would drift
    scores = np.concatenate([np.full(926, value), np.linspace(0.5, 0.9, 74)]).astype(np.float32)
    labels = np.zeros(1000, bool)
    labels[::7] = True
    weights = np.ones(1000, np.int32)
    # Enough bins that every distinct score has its own.
    histogram = score_histogram(scores[:, None], labels[:, None], weights, bins=4096)
    values = np.asarray(histogram.values[0])[np.asarray(histogram.counts[0]) == 926]
    assert values.tolist() == [value]
