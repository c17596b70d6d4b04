import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh.core.diagnostics import FitWarning
from jaxthresh.core.validation import Rows
from jaxthresh.methods import configure
from tests.conftest import candidate_thresholds, padded_problem, random_problem, row_weights

MAX_ROWS, CLASSES = 8, 3
WEIGHTS = ("bool", "int", "float")


#: The objective that gives each class the highest other figure under each constraint:
#: recall at precision >= min_precision, precision at recall >= min_recall.
OTHER_FIGURE = {
    "min_precision": {"objective": "recall", "average": "macro"},
    "min_recall": {"objective": "precision", "average": "macro"},
}


def _brute_force(scores, labels, weights, name, bound):
    """Per class, over every distinct threshold (NumPy): ``(met, precision, recall,
    predictions [n])`` of the best one: the constrained figure's bound met, then the highest
    other figure, then the highest threshold (under min_precision, of equal recalls the
    highest threshold is also the most precise; under min_recall, ties of precision go to
    the highest threshold, not to the higher recall)."""
    bound = np.float32(bound)
    found = []
    for c in range(scores.shape[1]):
        kept = weights > 0
        values, truth, weight = scores[kept, c], labels[kept, c], weights[kept]
        if not kept.any():
            found.append((False, 0.0, 0.0, np.zeros(len(scores), bool)))
            continue
        thresholds = np.sort(candidate_thresholds(values))[::-1]  # highest first
        above = values[None, :] > thresholds[:, None]
        tp = (above * np.where(truth, weight, 0)).sum(axis=1)
        pp = (above * weight).sum(axis=1)
        p = np.where(truth, weight, 0).sum()
        precision = np.float32(tp) / np.where(pp > 0, np.float32(pp), np.float32(1))
        recall = np.float32(tp) / np.float32(p if p > 0 else 1)
        if name == "min_precision":
            feasible, primary = (pp > 0) & (precision >= bound), recall
        else:
            feasible, primary = (p > 0) & (recall >= bound), precision
        options = [(primary[i], -i) for i in np.flatnonzero(feasible)]
        if not options:
            found.append((False, 0.0, 0.0, np.zeros(len(scores), bool)))
            continue
        best = -max(options)[1]
        found.append((True, precision[best], recall[best], scores[:, c] > thresholds[best]))
    return found


@jax.jit
def _fit(config, rows):
    return config.fit(rows)


def _check_against_brute_force(scores, labels, weights, name, bound):
    config = configure("constrained", scores.shape[1], **{name: bound}, **OTHER_FIGURE[name])
    result = _fit(config, Rows(scores, labels, weights))
    expected = _brute_force(scores, labels, weights, name, bound)
    predictions = scores > np.asarray(result.thresholds)
    kept = weights > 0
    for c, (met, precision, recall, predicted) in enumerate(expected):
        assert bool(result.met[c]) == met, c
        assert float(result.precision[c]) == precision, c
        assert float(result.recall[c]) == recall, c
        np.testing.assert_array_equal(predictions[kept, c], predicted[kept], err_msg=str(c))


@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 100_000),
    st.integers(1, MAX_ROWS),
    st.sampled_from(["min_precision", "min_recall"]),
    st.sampled_from([0.25, 0.5, 0.6, 2 / 3, 0.75, 0.8, 1.0]),
    st.sampled_from(WEIGHTS),
    st.booleans(),
)
def test_constrained_equals_brute_force(seed, rows, name, bound, weight_kind, ties):
    # Padded to MAX_ROWS rows of weight 0 and fitted on Rows without a positive bound: one
    # compiled fit per (constraint, weight kind).
    scores, labels, kept, _ = padded_problem(seed, rows, CLASSES, max_rows=MAX_ROWS, ties=ties)
    weights = row_weights(weight_kind, kept, seed)
    _check_against_brute_force(scores, labels, weights, name, bound)


def test_subnormal_scores_are_exact():
    scores, labels = random_problem(40, rows=MAX_ROWS, classes=CLASSES, ties=True)
    tiny = scores * np.float32(1e-40)
    assert np.all(tiny < np.finfo(np.float32).tiny)
    for name in ("min_precision", "min_recall"):
        _check_against_brute_force(tiny, labels, np.ones(MAX_ROWS, bool), name, 0.5)


def test_ties_and_exact_ratios():
    # Equal scores are never split; 2 of 3 meets min_precision=2/3 exactly (float32 ratio).
    scores = np.array([[0.9], [0.5], [0.5], [0.4], [0.1]], np.float32)
    labels = np.array([[1], [1], [0], [1], [0]])
    result = jaxthresh.fit_constrained(
        scores, labels, min_precision=2 / 3, **OTHER_FIGURE["min_precision"]
    )
    predicted = np.asarray(jaxthresh.apply_thresholds(scores, result.thresholds))[:, 0]
    assert predicted.tolist() == [True, True, True, True, False]  # TP 3, PP 4: 0.75
    assert (float(result.precision[0]), float(result.recall[0])) == (0.75, 1.0)
    # Under min_recall=1/3 the top row alone has precision 1.
    result = jaxthresh.fit_constrained(
        scores, labels, min_recall=1 / 3, **OTHER_FIGURE["min_recall"]
    )
    assert np.asarray(jaxthresh.apply_thresholds(scores, result.thresholds))[:, 0].sum() == 1
    assert float(result.precision[0]) == 1.0


def test_a_class_that_cannot_meet_the_constraint_is_named_and_predicts_nothing():
    scores, _ = random_problem(41, rows=40, classes=3)
    labels = scores > np.median(scores, axis=0)  # classes 0 and 2 separable, 1 reversed
    labels[:, 1] = ~labels[:, 1]
    with pytest.warns(FitWarning, match=r"min_precision: no threshold reaches precision >= 0\.95"):
        result = jaxthresh.fit_constrained(scores, labels, min_precision=0.95)
    message = "in 1 class (1); their thresholds predict nothing"
    with pytest.warns(FitWarning, match=message.replace("(", r"\(").replace(")", r"\)")):
        jaxthresh.fit_constrained(scores, labels, min_precision=0.95)
    assert np.asarray(result.met).tolist() == [True, False, True]
    assert not np.asarray(jaxthresh.apply_thresholds(scores, result.thresholds))[:, 1].any()
    assert float(result.precision[1]) == float(result.recall[1]) == 0.0
    summary = configure("constrained", 3, min_precision=0.95).summary(result)
    assert summary == {"classes_met": 2, "classes_not_met": [1]}


@pytest.mark.parametrize(
    "given, message",
    [
        ({}, "got neither"),
        ({"min_precision": 0.5, "min_recall": 0.5}, "got both"),
        ({"min_precision": 1.5}, r"min_precision: must be in \(0, 1\], got 1.5"),
        ({"min_recall": -0.1}, "min_recall: must be finite and > 0"),
        ({"min_recall": 0.0}, "min_recall: must be finite and > 0"),
    ],
)
def test_bad_constraints_are_refused(given, message):
    scores, labels = random_problem(42, rows=10, classes=2)
    with pytest.raises(ValueError, match=message):
        jaxthresh.fit_constrained(scores, labels, **given)
    if "both" in message or "neither" in message:
        with pytest.raises(ValueError, match=r"^min_precision, min_recall: give exactly one"):
            jaxthresh.fit_constrained(scores, labels, **given)


def test_histogram_thresholds_meet_the_constraint_on_the_rows():
    scores, labels = random_problem(43, rows=300, classes=4)
    result = jaxthresh.fit_constrained(
        scores, labels, min_recall=0.6, bins=32, **OTHER_FIGURE["min_recall"]
    )
    predicted = scores > np.asarray(result.thresholds)
    true_positives = (predicted & labels).sum(axis=0)
    assert np.asarray(result.met).all()
    recall = np.float32(true_positives) / np.float32(labels.sum(axis=0))
    precision = np.float32(true_positives) / np.float32(predicted.sum(axis=0))
    assert (recall >= np.float32(0.6)).all()
    np.testing.assert_array_equal(np.asarray(result.recall), recall)
    np.testing.assert_array_equal(np.asarray(result.precision), precision)
    # At cell resolution: never better than on the rows themselves.
    exact = jaxthresh.fit_constrained(scores, labels, min_recall=0.6, **OTHER_FIGURE["min_recall"])
    assert (np.asarray(exact.precision) >= precision).all()


def test_cross_validation_reports_micro_f1():
    # The shape of the property test: the refits reuse its compiled fit.
    scores, labels = random_problem(44, rows=MAX_ROWS, classes=CLASSES)
    cv = jaxthresh.cross_validate(scores, labels, "constrained", n_folds=2, min_precision=0.6)
    assert cv.thresholds.shape == (2, CLASSES) and cv.fits.met.shape == (2, CLASSES)
    ids = np.asarray(cv.fold_ids)
    for fold in range(2):
        held = ids == fold
        predictions = scores[held] > np.asarray(cv.thresholds[fold])
        expected = jaxthresh.f1_score(labels[held], predictions)
        assert float(cv.heldout_score[fold]) == pytest.approx(expected, abs=1e-6)
        config = configure("constrained", CLASSES, min_precision=0.6)
        refit = _fit(config, Rows(scores, labels, ~held))
        np.testing.assert_array_equal(cv.thresholds[fold], refit.thresholds)
        np.testing.assert_array_equal(cv.fits.met[fold], refit.met)
