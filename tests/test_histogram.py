import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh._cuts import above_all, threshold_between
from jaxthresh.histogram import cell_centres, histogram_cuts, score_histogram
from tests.conftest import random_problem


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 40),
    st.integers(1, 4),
    st.sampled_from([1, 2, 4, 16, 100]),
    st.sampled_from([None, 4, 100]),
)
def test_every_cut_predicts_exactly_the_rows_it_counts(seed, rows, classes, bins, grid):
    # Scores on a grid (grid=100: two decimals, as rounded scores are) land on cell edges.
    scores, labels = random_problem(seed, rows, classes, ties=True)
    if grid:
        scores = (np.round(scores * grid) / grid).astype(np.float32)
    weights = np.random.default_rng(seed).integers(0, 3, rows).astype(np.int32)
    histogram = score_histogram(scores, labels, weights, bins=bins)
    assert histogram.counts.shape == histogram.positives.shape == (classes, bins)
    np.testing.assert_array_equal(histogram.counts.sum(1), np.full(classes, weights.sum()))
    np.testing.assert_array_equal(histogram.positives.sum(1), (labels * weights[:, None]).sum(0))
    cuts = histogram_cuts(histogram)
    thresholds = np.asarray(threshold_between(cuts.upper, cuts.lower))
    for c in range(classes):
        for j in np.flatnonzero(np.asarray(cuts.valid[c])):
            above = scores[:, c] > thresholds[c, j]
            assert int(cuts.predicted[c, j]) == int(np.sum(weights * above))
            assert int(cuts.true_positives[c, j]) == int(np.sum(weights * above * labels[:, c]))
    if weights.any():  # "predict nothing" lies above every kept score
        nothing = np.asarray(above_all(cuts.highest))
        assert not np.any((scores > nothing) & (weights[:, None] > 0))


def test_vmap_over_weights_builds_one_histogram_per_fold():
    scores, labels = random_problem(5, rows=50, classes=3)
    weights = np.stack([np.arange(50) % 2, np.ones(50)]).astype(np.int32)
    batched = jax.vmap(lambda w: score_histogram(scores, labels, w, bins=8))(weights)
    for i, w in enumerate(weights):
        single = score_histogram(scores, labels, w, bins=8)
        for field in single._fields:
            np.testing.assert_array_equal(getattr(batched, field)[i], getattr(single, field))


def test_degenerate_and_extreme_ranges():
    # One distinct score per class: every row in cell 0, its centre the score itself.
    scores = np.full((6, 2), 0.3, np.float32)
    scores[:, 1] = -2.5
    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1]], bool)
    histogram = score_histogram(scores, labels, np.ones(6, np.int32), bins=16)
    np.testing.assert_array_equal(histogram.counts[:, 0], [6, 6])
    np.testing.assert_allclose(cell_centres(histogram)[:, 0], [0.3, -2.5], rtol=1e-6)
    fit = jaxthresh.fit_exact(scores, labels, average="macro", bins=16)
    applied = jaxthresh.f1_score(labels, scores > np.asarray(fit.thresholds), average="macro")
    assert applied == pytest.approx(float(fit.score), abs=1e-6)
    # A span wider than float32 can hold (3e38 - -3e38) neither overflows nor misplaces.
    wide = np.array([[-3e38, 0.0], [3e38, 1.0], [1.0, 0.5]], np.float32)
    wide_labels = np.array([[0, 0], [1, 1], [1, 0]], bool)
    fit = jaxthresh.fit_exact(wide, wide_labels, bins=8)
    assert np.all(np.isfinite(fit.thresholds))
    assert jaxthresh.f1_score(wide_labels, wide > np.asarray(fit.thresholds)) == pytest.approx(
        float(fit.score), abs=1e-6
    )
    sgl = jaxthresh.fit_sgl(wide, wide_labels, init=0.5, bins=8, epochs=5)
    assert np.all(np.isfinite(sgl.thresholds))


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
