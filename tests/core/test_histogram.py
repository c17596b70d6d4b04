import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh.core import validation
from jaxthresh.core.cuts import above_all, threshold_between
from jaxthresh.core.histogram import cell_centres, histogram_candidates, score_histogram
from jaxthresh.core.validation import Rows
from jaxthresh.methods import configure
from tests.conftest import padded_problem, random_problem

MAX_ROWS = 40
CLASSES = 3


BINS = (1, 2, 4, 16, 100)


@jax.jit
def _histograms_and_cuts(scores, labels, weights):
    """For every number of cells in BINS (one compilation for all): the histogram, its cuts,
    a threshold in each cut and the threshold that predicts nothing."""
    results = {}
    for bins in BINS:
        histogram = score_histogram(Rows(scores, labels, weights), bins=bins)
        cuts = histogram_candidates(histogram)
        between = threshold_between(cuts.upper, cuts.lower)
        results[bins] = histogram, cuts, between, above_all(cuts.highest)
    return results


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, MAX_ROWS), st.sampled_from([None, 4, 100]))
def test_every_cut_predicts_exactly_the_rows_it_counts(seed, rows, grid):
    # Scores on a grid (grid=100: two decimals, as rounded scores are) land on cell edges.
    # Rows of weight 0 pad every problem to one shape (their scores span a wider range:
    # they must neither count nor widen the cells). Classes are independent columns, so a
    # fixed number of them covers the property.
    scores, labels, kept, _ = padded_problem(seed, rows, CLASSES, max_rows=MAX_ROWS, ties=True)
    if grid:
        scores = (np.round(scores * grid) / grid).astype(np.float32)
    scores = np.where(kept[:, None], scores, scores * 10 - 5).astype(np.float32)
    weights = (np.random.default_rng(seed).integers(0, 3, MAX_ROWS) * kept).astype(np.int32)
    for bins, (histogram, cuts, thresholds, nothing) in _histograms_and_cuts(
        scores, labels, weights
    ).items():
        assert histogram.counts.shape == histogram.positives.shape == (CLASSES, bins)
        np.testing.assert_array_equal(histogram.counts.sum(1), np.full(CLASSES, weights.sum()))
        np.testing.assert_array_equal(
            histogram.positives.sum(1), (labels * weights[:, None]).sum(0)
        )
        for c in range(CLASSES):
            valid = np.asarray(cuts.valid[c])
            above = scores[:, c, None] > np.asarray(thresholds)[None, c, valid]  # [rows, cuts]
            np.testing.assert_array_equal(np.asarray(cuts.predicted[c])[valid], weights @ above)
            np.testing.assert_array_equal(
                np.asarray(cuts.true_positives[c])[valid], (weights * labels[:, c]) @ above
            )
        if weights.any():  # "predict nothing" lies above every kept score
            assert not np.any((scores > np.asarray(nothing)) & (weights[:, None] > 0))


def test_vmap_over_weights_builds_one_histogram_per_fold():
    scores, labels = random_problem(5, rows=50, classes=3)
    weights = np.stack([np.arange(50) % 2, np.ones(50)]).astype(np.int32)
    batched = jax.vmap(lambda w: score_histogram(Rows(scores, labels, w), bins=8))(weights)
    for i, w in enumerate(weights):
        single = score_histogram(Rows(scores, labels, w), bins=8)
        for field in single._fields:
            np.testing.assert_array_equal(getattr(batched, field)[i], getattr(single, field))


def test_bool_and_float_weights():
    scores, labels = random_problem(8, rows=50, classes=3)
    kept = np.arange(50) % 3 > 0
    as_bool = score_histogram(Rows(scores, labels, kept), bins=8)
    as_int = score_histogram(Rows(scores, labels, kept.astype(np.int32)), bins=8)
    for field in as_bool._fields:
        np.testing.assert_array_equal(getattr(as_bool, field), getattr(as_int, field))
    assert as_bool.counts.dtype == np.int32
    halves = score_histogram(Rows(scores, labels, kept.astype(np.float32) / 2), bins=8)
    assert halves.counts.dtype == np.float32
    np.testing.assert_array_equal(halves.counts, np.asarray(as_int.counts, np.float32) / 2)
    np.testing.assert_array_equal(halves.positives, np.asarray(as_int.positives, np.float32) / 2)


@pytest.mark.filterwarnings("ignore::jaxthresh.core.diagnostics.FitWarning")
def test_degenerate_and_extreme_ranges():
    # One distinct score per class: every row in cell 0, its centre the score itself.
    scores = np.full((6, 2), 0.3, np.float32)
    scores[:, 1] = -2.5
    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1]], bool)
    histogram = score_histogram(Rows(scores, labels, np.ones(6, np.int32)), bins=16)
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


_BINNED_METHODS = {"sgl": {"init": 0.4}, "exact": {}, "numerical": {"init": 0.4}}


@jax.jit
def _fits_on_rows_and_bins(configs, rows):
    return {name: config.fit(rows).thresholds for name, config in configs.items()}


def test_bins_option_stays_close_to_the_rows():
    # Every method's fits on the rows and on 2048 cells, in one compiled call (what
    # fit_<method>(scores, labels, bins=...) runs, after its checks).
    scores, labels = random_problem(4, rows=4000, classes=6)
    configs = {
        f"{method}/{bins}": configure(method, 6, bins=bins, **extra)
        for method, extra in _BINNED_METHODS.items()
        for bins in (None, 2048)
    }
    thresholds = _fits_on_rows_and_bins(configs, validation.as_rows(scores, labels))
    for method in _BINNED_METHODS:
        f1 = [
            jaxthresh.f1_score(labels, jaxthresh.apply_thresholds(scores, thresholds[name]))
            for name in (f"{method}/None", f"{method}/2048")
        ]
        assert abs(f1[0] - f1[1]) < 0.002, method


def test_bins_option_is_checked():
    scores, labels = random_problem(7, rows=30, classes=2)
    for bad in (0, -3, 2.5, 2**21, True):
        with pytest.raises(ValueError, match="bins"):
            jaxthresh.fit_exact(scores, labels, bins=bad)


def _fields_equal(got, expected):
    for field in jaxthresh.Histogram._fields:
        np.testing.assert_array_equal(getattr(got, field), getattr(expected, field), field)


def test_merged_histograms_are_the_histogram_of_all_rows():
    scores, labels = random_problem(9, rows=500, classes=4)
    parts = [slice(0, 120), slice(120, 121), slice(121, 500)]
    low = scores.min(0) - np.float32(0.25)  # per class, as agreed ranges are
    for score_range in ((0.0, 1.0), (low, scores.max(0))):
        whole = jaxthresh.histogram_pass(scores, labels, bins=16, score_range=score_range)
        pieces = [
            jaxthresh.histogram_pass(scores[p], labels[p], bins=16, score_range=score_range)
            for p in parts
        ]
        no_rows = whole._replace(
            counts=np.zeros((4, 16), np.int32),
            positives=np.zeros((4, 16), np.int32),
            high=np.full(4, -np.inf, np.float32),
        )
        merged = jaxthresh.merge_histograms([*pieces, no_rows])
        _fields_equal(merged, whole)
        assert merged.counts.dtype == np.int32 and merged.low.dtype == np.float32
        _fields_equal(jaxthresh.merge_histograms(pieces[:1]), pieces[0])
    # Float counts (float row weights) add as float32 sums.
    floats = whole._replace(
        counts=np.asarray(whole.counts, np.float32) / 4,
        positives=np.asarray(whole.positives, np.float32) / 4,
    )
    merged = jaxthresh.merge_histograms((floats, floats))
    assert merged.counts.dtype == np.float32
    np.testing.assert_array_equal(merged.counts, np.asarray(whole.counts, np.float32) / 2)


def test_merge_histograms_refuses_what_cannot_be_added():
    scores, labels = random_problem(10, rows=60, classes=3)
    histogram = jaxthresh.histogram_pass(scores, labels, bins=8, score_range=(0.0, 1.0))
    refused = {
        "an empty list": ([], r"histograms: an empty list"),
        "one histogram": (histogram, r"histograms: expected a list of Histograms, got one"),
        "not a list": (3, r"histograms: expected a list of Histograms, got int"),
        "not a histogram": ([histogram, (1, 2)], r"histograms\[1\]: expected a jaxthresh"),
        "other cells": (
            [histogram, jaxthresh.histogram_pass(scores, labels, bins=4, score_range=(0, 1))],
            r"histograms\[1\]\.counts: 3 classes x 4 cells, but histograms\[0\] has 3 x 8",
        ),
        "other classes": (
            [histogram, jaxthresh.histogram_pass(scores[:, :2], labels[:, :2], bins=8)],
            r"histograms\[1\]\.counts: 2 classes x 8 cells",
        ),
        "other low": (
            [histogram, histogram._replace(low=np.array([0.0, -0.0, 1e-7], np.float32))],
            r"histograms\[1\]\.low: 1e-07 at class 2, but histograms\[0\] has 0\.0 "
            r"\(1 classes differ\)",
        ),
        "other width": (
            [histogram, jaxthresh.histogram_pass(scores, labels, bins=8)],
            r"histograms\[1\]\.low: .* at class 0",
        ),
        "float and int counts": (
            [histogram, histogram._replace(counts=np.asarray(histogram.counts, np.float32))],
            r"histograms\[1\]\.counts: float counts cannot be merged with the int counts",
        ),
        "bad values": (
            [histogram, histogram._replace(positives=histogram.counts + 1)],
            r"histograms\[1\]\.positives: must be >= 0 and at most the counts",
        ),
        "an int32 overflow": (
            [histogram._replace(counts=np.full((3, 8), 2**28, np.int32))] * 2,
            r"histograms: the counts of class 0 total 4294967296 together, more than exact "
            r"int32 counts hold \(2\*\*31 - 1\)",
        ),
        "a float overflow": (
            [histogram._replace(counts=np.full((3, 8), 1e29, np.float32))] * 2,
            r"histograms: the counts of class 0 total 1\.6e\+30 together, more than float32",
        ),
    }
    for case, (histograms, message) in refused.items():
        with pytest.raises(ValueError, match=message):
            jaxthresh.merge_histograms(histograms)
            pytest.fail(case)
    # Up to the int32 bound, exact.
    first, second = np.zeros((2, 3, 8), np.int64)
    first[:, 0], second[:, 7] = 2**30, 2**30 - 1
    merged = jaxthresh.merge_histograms(
        [histogram._replace(counts=c, positives=np.zeros_like(c)) for c in (first, second)]
    )
    np.testing.assert_array_equal(np.asarray(merged.counts).sum(1, dtype=np.int64), 2**31 - 1)
