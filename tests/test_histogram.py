import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh.histogram import cell_centres, histogram_cuts, score_histogram
from tests.conftest import random_problem


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 40),
    st.integers(1, 4),
    st.booleans(),
    st.sampled_from([1, 2, 4, 16]),
)
def test_histogram_keeps_every_weighted_row_in_its_cell(seed, rows, classes, ties, cells):
    scores, labels = random_problem(seed, rows, classes, ties=ties)
    weights = np.random.default_rng(seed).integers(0, 3, rows).astype(np.int32)
    histogram = score_histogram(scores, labels, weights, cells=cells)
    assert histogram.counts.shape == histogram.positives.shape == (classes, cells)
    np.testing.assert_array_equal(histogram.counts.sum(1), np.full(classes, weights.sum()))
    np.testing.assert_array_equal(histogram.positives.sum(1), (labels * weights[:, None]).sum(0))
    kept = weights > 0
    if kept.any():
        np.testing.assert_array_equal(histogram.high, scores[kept].max(0))
        edges = (
            np.asarray(histogram.low)[:, None]
            + np.arange(cells + 1) * np.asarray(histogram.width)[:, None]
        )
        for c in range(classes):
            # Each kept row sits in the cell whose edges hold it (up to float32 rounding).
            cell = np.searchsorted(edges[c], scores[kept, c], side="right") - 1
            cell = np.clip(cell, 0, cells - 1)
            expected = np.bincount(cell, weights=weights[kept], minlength=cells)
            assert np.abs(np.asarray(histogram.counts[c]) - expected).sum() <= 2 * weights.max()


def test_vmap_over_weights_builds_one_histogram_per_fold():
    scores, labels = random_problem(5, rows=50, classes=3)
    weights = np.stack([np.arange(50) % 2, np.ones(50)]).astype(np.int32)
    batched = jax.vmap(lambda w: score_histogram(scores, labels, w, cells=8))(weights)
    for i, w in enumerate(weights):
        single = score_histogram(scores, labels, w, cells=8)
        for field in single._fields:
            np.testing.assert_array_equal(getattr(batched, field)[i], getattr(single, field))


def test_cuts_fall_between_non_empty_cells():
    scores, labels = random_problem(6, rows=200, classes=2)
    histogram = score_histogram(scores, labels, np.ones(200, np.int32), cells=32)
    cuts = histogram_cuts(histogram)
    centres = np.asarray(cell_centres(histogram))
    for c in range(2):
        filled = np.asarray(cuts.valid[c])
        upper, lower = np.asarray(cuts.upper[c])[filled], np.asarray(cuts.lower[c])[filled]
        np.testing.assert_array_equal(upper, centres[c][::-1][filled])
        np.testing.assert_array_equal(lower[:-1], upper[1:])  # the next non-empty centre
        assert lower[-1] == -np.inf
    np.testing.assert_array_equal(cuts.predicted[:, -1], [200, 200])


@pytest.mark.parametrize("method", ["sgl", "exact", "numerical"])
def test_bins_option_stays_close_to_the_rows(method):
    scores, labels = random_problem(4, rows=4000, classes=6)
    extra = {} if method == "exact" else {"init": 0.4}
    fit = getattr(jaxthresh, f"fit_{method}")
    rows = fit(scores, labels, **extra)
    binned = fit(scores, labels, bins=2048, **extra)
    f1 = [
        jaxthresh.f1_score(labels, jaxthresh.apply_thresholds(scores, r.thresholds))
        for r in (rows, binned)
    ]
    assert abs(f1[0] - f1[1]) < 0.002


def test_bins_option_is_checked():
    scores, labels = random_problem(7, rows=30, classes=2)
    for bad in (0, -3, 2.5, 2**21, True):
        with pytest.raises(ValueError, match="bins"):
            jaxthresh.fit_exact(scores, labels, bins=bad)
