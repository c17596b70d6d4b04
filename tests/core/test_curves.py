import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh import objectives
from jaxthresh.core import validation
from jaxthresh.core.curves import threshold_curves
from jaxthresh.core.histogram import score_histogram
from tests.conftest import padded_problem, random_problem, row_weights
from tests.methods import reference

MAX_ROWS, CLASSES = 8, 3


def _counts_above(scores, labels, weights, thresholds):
    """NumPy counts ``(true positives, predicted)`` of ``scores > t`` for each t."""
    above = scores[None, :] > np.asarray(thresholds)[:, None]
    return (above * np.where(labels, weights, 0)).sum(axis=1), (above * weights).sum(axis=1)


def _points(curves, c):
    """Class ``c``'s points (padding dropped), as NumPy arrays by field."""
    count = int(curves.count[c])
    fields = ("thresholds", "true_positives", "predicted", "precision", "recall", "score")
    return {field: np.asarray(getattr(curves, field))[c, :count] for field in fields}


def _check_ratios(points, positives, beta):
    tp, pp = points["true_positives"], points["predicted"]
    f32 = np.float32
    precision = np.where(pp > 0, f32(tp) / np.where(pp > 0, f32(pp), f32(1)), 1)
    recall = f32(tp) / f32(positives) if positives > 0 else np.ones_like(f32(tp))
    np.testing.assert_array_equal(points["precision"], precision)
    np.testing.assert_array_equal(points["recall"], recall)
    fbeta = reference.fbeta_ratio(tp, pp, positives, beta)
    np.testing.assert_allclose(points["score"], fbeta, rtol=1e-6, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 100_000),
    st.integers(1, MAX_ROWS),
    st.sampled_from(["bool", "int", "float"]),
    st.sampled_from([1.0, 0.5]),
    st.booleans(),
)
def test_exact_curves_equal_brute_force(seed, rows, weight_kind, beta, ties):
    scores, labels, kept, _ = padded_problem(seed, rows, CLASSES, max_rows=MAX_ROWS, ties=ties)
    weights = row_weights(weight_kind, kept, seed)
    curves = threshold_curves(scores, labels, weights, objective=objectives.fbeta(beta))
    assert curves.thresholds.shape == (CLASSES, MAX_ROWS + 1)
    used = weights > 0
    for c in range(CLASSES):
        points = _points(curves, c)
        values = scores[used, c]
        # Every distinct score, and one just below the lowest (every row predicted).
        lowest = np.nextafter(values.min(), np.float32(-np.inf)) if values.size else None
        expected = np.unique(values) if values.size else np.zeros(0, np.float32)
        if lowest is not None:
            expected = np.concatenate([[lowest], expected])
        np.testing.assert_array_equal(points["thresholds"], expected)
        tp, pp = _counts_above(values, labels[used, c], weights[used], expected)
        np.testing.assert_array_equal(points["true_positives"], tp)
        np.testing.assert_array_equal(points["predicted"], pp)
        positives = np.where(labels[used, c], weights[used], 0).sum()
        assert curves.positives[c] == positives
        assert curves.total[c] == weights[used].sum()
        _check_ratios(points, positives, beta)
        # Padding after the points.
        assert np.all(np.isinf(np.asarray(curves.thresholds)[c, len(expected) :]))


def test_subnormal_scores_keep_their_order():
    scores, labels = random_problem(60, rows=MAX_ROWS, classes=CLASSES, ties=True)
    tiny = scores * np.float32(1e-40)
    curves = threshold_curves(tiny, labels)
    for c in range(CLASSES):
        points = _points(curves, c)
        assert np.all(np.diff(points["thresholds"]) > 0)
        tp, pp = _counts_above(tiny[:, c], labels[:, c], np.ones(MAX_ROWS), points["thresholds"])
        np.testing.assert_array_equal(points["true_positives"], tp)
        np.testing.assert_array_equal(points["predicted"], pp)


def test_histogram_curves_are_exact_at_their_thresholds():
    bins = 6  # ties share cells; some cells empty
    scores, labels = random_problem(61, rows=MAX_ROWS, classes=CLASSES, ties=True)
    curves = threshold_curves(scores, labels, bins=bins)
    assert curves.thresholds.shape == (CLASSES, bins + 1)
    histogram = score_histogram(validation.as_rows(scores, labels), bins=bins)
    for c in range(CLASSES):
        points = _points(curves, c)
        # A point per non-empty cell (the cut below it), and one that predicts nothing.
        assert len(points["thresholds"]) == np.count_nonzero(histogram.counts[c]) + 1
        assert np.all(np.diff(points["thresholds"]) > 0)
        assert points["predicted"][0] == len(scores) and points["predicted"][-1] == 0
        tp, pp = _counts_above(scores[:, c], labels[:, c], np.ones(MAX_ROWS), points["thresholds"])
        np.testing.assert_array_equal(points["true_positives"], tp)
        np.testing.assert_array_equal(points["predicted"], pp)
        _check_ratios(points, labels[:, c].sum(), 1.0)
    # The same curves from the histogram itself (thresholds within the same cuts: XLA
    # may round the cell edges differently when the histogram is built in the same call).
    direct = threshold_curves(histogram)
    np.testing.assert_allclose(direct.thresholds, curves.thresholds, rtol=1e-6)
    for got, want in zip(direct[1:], curves[1:], strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
def test_the_exact_fit_lies_on_its_curve():
    scores, labels = random_problem(62, rows=MAX_ROWS, classes=CLASSES, ties=True)
    curves = threshold_curves(scores, labels)
    fit = jaxthresh.fit_exact(scores, labels, average="macro")
    for c in range(CLASSES):
        points = _points(curves, c)
        assert float(np.max(points["score"])) == pytest.approx(
            jaxthresh.f1_score(labels[:, [c]], scores[:, [c]] > float(fit.thresholds[c])),
            abs=1e-6,
        )


def test_jit_and_vmap():
    problems = [random_problem(63 + i, rows=MAX_ROWS, classes=CLASSES) for i in range(2)]
    scores = np.stack([s for s, _ in problems])
    labels = np.stack([y for _, y in problems])
    batched = jax.vmap(lambda s, y: threshold_curves(s, y, objective=objectives.fbeta(2.0)))(
        scores, labels
    )
    jitted = jax.jit(lambda s, y: threshold_curves(s, y, objective=objectives.fbeta(2.0)))(
        scores[1], labels[1]
    )
    for i in range(2):
        single = threshold_curves(scores[i], labels[i], objective=objectives.fbeta(2.0))
        for got, want in zip(batched, single, strict=True):
            np.testing.assert_array_equal(np.asarray(got)[i], want)
    for got, want in zip(jitted, single, strict=True):
        np.testing.assert_array_equal(got, want)


def _counts_of(curves, c):
    """Class ``c``'s ``(tp, fp, fn, tn)`` at each point, in float64 from the curves'
    true positives, predictions, positives and total weight."""
    points = _points(curves, c)
    tp = points["true_positives"].astype(np.float64)
    predicted = points["predicted"].astype(np.float64)
    positives, total = float(curves.positives[c]), float(curves.total[c])
    return tp, predicted - tp, positives - tp, total - predicted - (positives - tp)


def test_jaccard_curves_are_tp_over_the_union():
    scores, labels, kept, _ = padded_problem(65, 6, CLASSES, max_rows=MAX_ROWS, ties=True)
    weights = row_weights("float", kept, 65)
    curves = threshold_curves(scores, labels, weights, objective="jaccard")
    for c in range(CLASSES):
        points = _points(curves, c)
        tp, predicted = points["true_positives"], points["predicted"]
        union = predicted + curves.positives[c] - tp
        expected = np.where(union > 0, tp / np.where(union > 0, union, 1), 1.0)
        np.testing.assert_allclose(points["score"], expected, rtol=1e-6, atol=1e-7)
        # The last point predicts nothing: a score of 0 unless the class has no positives.
        assert points["score"][-1] == (1.0 if curves.positives[c] == 0 else 0.0)
    # Padding scores 0.
    assert np.all(np.asarray(curves.score)[~np.asarray(curves.mask)] == 0)
    # Nothing to find: 1 where nothing is predicted (0 / 0), else 0.
    no_positives = threshold_curves(scores, np.zeros_like(labels), weights, objective="jaccard")
    for c in range(CLASSES):
        points = _points(no_positives, c)
        expected = np.where(points["predicted"] > 0, 0.0, 1.0)
        np.testing.assert_array_equal(points["score"], expected)


@pytest.mark.parametrize(
    "gains",
    [
        {"tp": 1.0, "fp": -0.25, "fn": -1.0, "tn": 0.0},
        {"tp": [1.0, 2.0, 0.5], "fp": -0.5, "fn": [-1.0, 0.0, -2.0], "tn": 0.25},
    ],
    ids=["shared", "per class"],
)
def test_utility_curves_are_each_class_gain(gains):
    scores, labels, kept, _ = padded_problem(66, 7, CLASSES, max_rows=MAX_ROWS, ties=True)
    weights = row_weights("int", kept, 66)
    curves = threshold_curves(scores, labels, weights, objective=objectives.utility(**gains))
    used = weights > 0
    per_class = {k: np.broadcast_to(np.asarray(v, np.float64), CLASSES) for k, v in gains.items()}
    for c in range(CLASSES):
        assert curves.total[c] == weights[used].sum()
        tp, fp, fn, tn = _counts_of(curves, c)
        assert np.all(tn >= 0)
        expected = (
            per_class["tp"][c] * tp
            + per_class["fp"][c] * fp
            + per_class["fn"][c] * fn
            + per_class["tn"][c] * tn
        )
        np.testing.assert_allclose(_points(curves, c)["score"], expected, rtol=1e-6, atol=1e-5)


def test_bad_inputs_are_named():
    scores, labels = random_problem(64, rows=MAX_ROWS, classes=CLASSES)
    with pytest.raises(ValueError, match=r"^labels: required"):
        threshold_curves(scores)
    with pytest.raises(ValueError, match=r"^objective: fbeta's beta must be between"):
        threshold_curves(scores, labels, objective=objectives.fbeta(0.0))
    with pytest.raises(ValueError, match=r"^objective: unknown name 'nope'"):
        threshold_curves(scores, labels, objective="nope")
    with pytest.raises(ValueError, match=r"^objective: utility has coefficients for 2 classes"):
        threshold_curves(scores, labels, objective=objectives.utility(tp=[1.0, 2.0]))
    with pytest.raises(ValueError, match=r"^bins: expected a whole number"):
        threshold_curves(scores, labels, bins=2.5)
    histogram = score_histogram(validation.as_rows(scores, labels), bins=4)
    with pytest.raises(ValueError, match=r"^scores: a Histogram carries"):
        threshold_curves(histogram, labels)
    assert jaxthresh.threshold_curves is threshold_curves
