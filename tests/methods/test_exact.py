import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxthresh
from jaxthresh import objectives
from jaxthresh.core.validation import Rows
from jaxthresh.methods import configure
from tests.conftest import candidate_thresholds, padded_problem, random_problem, slow_except
from tests.methods import reference


def _brute_force(scores, labels, average, beta):
    """The best F-beta over every combination of per-class thresholds (NumPy, float64)."""
    true_positives, predicted = [], []  # per class, at each of its candidate thresholds
    for c in range(scores.shape[1]):
        above = scores[:, c][None, :] > candidate_thresholds(scores[:, c])[:, None]
        true_positives.append(above @ labels[:, c].astype(np.int64))
        predicted.append(above.sum(axis=1))
    # Every combination of one candidate per class: [combinations, classes].
    choices = np.stack(np.meshgrid(*[np.arange(len(t)) for t in predicted], indexing="ij"))
    choices = choices.reshape(scores.shape[1], -1).T
    tp = np.stack([t[choices[:, c]] for c, t in enumerate(true_positives)], axis=1)
    pp = np.stack([p[choices[:, c]] for c, p in enumerate(predicted)], axis=1)
    return float(reference.fbeta(tp, pp, labels.sum(axis=0), average, beta).max())


# As in test_global_threshold.py, so that the two share the compiled scoring of their
# examples.
MAX_ROWS, MAX_CLASSES = 8, 3


@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 100_000),
    st.integers(1, MAX_ROWS),
    st.integers(1, MAX_CLASSES),
    st.sampled_from(["micro", "macro"]),
    st.sampled_from([1.0, 0.5, 2.0]),
    st.booleans(),
)
def test_exact_equals_brute_force(seed, rows, classes, average, beta, ties):
    # Padded to MAX_ROWS rows (the padding weighs 0): one compiled fit per (classes, average).
    padded_scores, padded_labels, weights, (scores, labels) = padded_problem(
        seed, rows, classes, max_rows=MAX_ROWS, ties=ties
    )
    result = jaxthresh.fit_exact(
        padded_scores, padded_labels, weights, objective=objectives.fbeta(beta), average=average
    )
    predictions = jaxthresh.apply_thresholds(padded_scores, result.thresholds)
    reached = jaxthresh.f1_score(
        padded_labels, predictions, average=average, beta=beta, sample_weight=weights
    )
    best = _brute_force(scores, labels, average, beta)
    assert reached == pytest.approx(
        reference.fbeta_of_predictions(
            labels, scores > np.asarray(result.thresholds), average, beta
        ),
        abs=1e-6,
    )
    assert reached == pytest.approx(best, abs=1e-6)
    assert float(result.score) == pytest.approx(reached, abs=1e-6)


@pytest.mark.parametrize("average", slow_except(["micro", "macro"], ["micro"]))
def test_exact_is_at_least_every_other_fit(average):
    # The shape and SGL settings of test_sgl.py: the compiled SGL fits are shared.
    scores, labels = random_problem(11, rows=90, classes=4)
    exact = jaxthresh.fit_exact(scores, labels, average=average)
    sgl = jaxthresh.fit_sgl(scores, labels, init=0.5, epochs=40, average=average)
    default = jaxthresh.fit_default(scores, labels, average=average)
    assert float(sgl.history[-1]) > float(sgl.history[0])  # SGL did climb
    for other in (sgl.thresholds, default.thresholds):
        assert (
            float(exact.score) >= jaxthresh.f1_score(labels, scores > other, average=average) - 1e-7
        )


def test_equal_scores_are_predicted_together():
    scores = np.array([[0.9], [0.5], [0.5]], np.float32)
    labels = np.array([[1], [1], [0]])
    # Splitting the 0.5s would give F1 1.0 but no threshold can: the best is all three
    # (TP 2, PP 3, P 2: F1 0.8), not the top one alone (F1 2/3).
    result = jaxthresh.fit_exact(scores, labels)
    predictions = np.asarray(jaxthresh.apply_thresholds(scores, result.thresholds))
    assert predictions[:, 0].tolist() == [True, True, True]
    assert float(result.score) == pytest.approx(0.8)


# Shared by the tests below, so that they reuse the compiled fits.
ROWS, CLASSES = 500, 20


@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
def test_class_without_positives_predicts_nothing():
    scores, labels = random_problem(12, rows=ROWS, classes=CLASSES)
    labels[:, 1] = False
    result = jaxthresh.fit_exact(scores, labels)
    assert not np.asarray(jaxthresh.apply_thresholds(scores, result.thresholds))[:, 1].any()


def test_micro_converges_in_a_few_passes_and_vmaps():
    scores, labels = random_problem(13, rows=ROWS, classes=CLASSES)
    result = jaxthresh.fit_exact(scores, labels)
    assert 1 <= int(result.steps) <= 10
    config = configure("exact", CLASSES, average="micro")
    masks = np.stack([np.arange(ROWS) % 2 == f for f in (0, 1)])
    batched = jax.jit(jax.vmap(lambda w: config.fit(Rows(scores, labels, w))))(masks)
    for fold in range(2):
        rows = masks[fold]
        single = jaxthresh.fit_exact(scores[rows], labels[rows])
        np.testing.assert_allclose(batched.thresholds[fold], single.thresholds)
        assert float(batched.score[fold]) == pytest.approx(float(single.score))


@pytest.mark.parametrize("average", ["macro"])  # micro: tests/test_api.py
def test_integer_weights_are_repeated_rows(average):
    scores, labels = random_problem(14, rows=60, classes=4, ties=True)
    # Multiplicities 0, 1 and 2 summing to 60: both fits share one compilation.
    weights = np.random.default_rng(14).permutation(np.repeat(np.arange(3, dtype=np.int32), 20))
    repeated = np.repeat(np.arange(60), weights)
    weighted = jaxthresh.fit_exact(scores, labels, weights, average=average)
    expected = jaxthresh.fit_exact(
        scores[repeated], labels[repeated], np.ones(60, np.int32), average=average
    )
    assert float(weighted.score) == pytest.approx(float(expected.score), abs=1e-6)
    reached = jaxthresh.f1_score(
        labels[repeated], scores[repeated] > weighted.thresholds, average=average
    )
    assert reached == pytest.approx(float(expected.score), abs=1e-6)


@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
@pytest.mark.parametrize(
    "column, labels",
    [
        ([0.0, 0.0, 0.5], [1, 1, 1]),  # every row predicted: the threshold goes below 0.0
        ([0.0, -0.0, 0.1], [1, 0, 1]),  # -0.0 and 0.0 compare equal
        ([1e-40, 0.0], [1, 0]),  # a subnormal score compares as 0.0 under XLA
        ([0.9, 0.2], [0, 0]),  # nothing to find: predict nothing
    ],
)
def test_zero_signed_zero_and_subnormal_scores(column, labels):
    scores = np.array(column, np.float32)[:, None]
    labels = np.array(labels)[:, None]
    for fit in (jaxthresh.fit_exact, jaxthresh.fit_default):
        result = fit(scores, labels)
        reached = jaxthresh.f1_score(labels, jaxthresh.apply_thresholds(scores, result.thresholds))
        best = max(
            jaxthresh.f1_score(labels, jaxthresh.apply_thresholds(scores, t))
            for t in [*np.unique(scores), -1.0, 1.0]
        )
        assert reached == pytest.approx(best)
        if fit is jaxthresh.fit_exact:
            assert float(result.score) == pytest.approx(reached)


@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
def test_predict_nothing_holds_for_float64_scores():
    scores = np.array([[0.9], [0.2]])  # float64; 0.9 is above float32(0.9)
    labels = np.zeros((2, 1))
    thresholds = np.asarray(jaxthresh.fit_exact(scores, labels).thresholds)
    assert not (scores > thresholds).any()


@pytest.mark.filterwarnings("ignore::jaxthresh.core.diagnostics.FitWarning")  # empty classes
@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["micro", "macro"]))
def test_exact_with_per_label_weights_equals_brute_force(seed, average):
    # Integer weights of each label (0 leaves it out): the exact fit reaches the best
    # F1 of weighted counts over every combination of per-class cuts.
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random((7, 2)), 1).astype(np.float32)  # ties
    labels = rng.random((7, 2)) < 0.5
    weights = rng.integers(0, 3, (7, 2))
    if not weights.any():
        weights[0, 0] = 1
    found = jaxthresh.fit_exact(scores, labels, weights, average=average)
    candidates = [np.r_[np.unique(scores[:, c]) - 1e-3, 2.0] for c in range(2)]
    best = -1.0
    for t0 in candidates[0]:
        for t1 in candidates[1]:
            predictions = scores > np.array([t0, t1])
            tp = (weights * (labels & predictions)).sum(0)
            pp = (weights * predictions).sum(0)
            p = (weights * labels).sum(0)
            best = max(best, float(reference.fbeta(tp, pp, p, average, 1.0)))
    reached = jaxthresh.f1_score(
        labels, scores > np.asarray(found.thresholds), average=average, sample_weight=weights
    )
    assert reached == pytest.approx(best, abs=1e-6)
    assert float(found.score) == pytest.approx(best, abs=1e-6)


# Every objective and average, on tiny problems with ties, against brute force.


def _gain_ratio(tp, fp, fn, tn):
    """A custom objective (at module level: one compiled fit serves every example)."""
    del tn
    return (tp - fp) / (tp + fp + fn + 1)


OBJECTIVES = {
    "f1": "f1",
    "f0.5": objectives.fbeta(0.5),
    "jaccard": "jaccard",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "precision": "precision",
    "recall": "recall",
    "mcc": "mcc",
    "utility": objectives.utility(tp=1, fp=-0.5, fn=-2, tn=0.1),
    "custom": objectives.custom(_gain_ratio),
}
AVERAGES = ("micro", "macro", "weighted")
#: Micro averages of objectives that are no ratio of linear functions of the pooled counts:
#: no exact search (fit_default, one shared threshold, takes them).
NO_EXACT_SEARCH = {("mcc", "micro"), ("custom", "micro")}
#: Few distinct scores, so that rows tie; every problem is padded to TINY_ROWS rows of
#: weight 0 (one compiled fit per number of classes, kind of weights, objective and average).
TINY_VALUES = np.float32([0.1, 0.2, 0.3, 0.5])
TINY_ROWS = 8
# float32 counts and scores against float64 ones.
TOLERANCE = dict(rel=1e-5, abs=1e-5)


@st.composite
def _tiny_problems(draw):
    """``(scores, labels, weights, padded)``: 2 to TINY_ROWS rows of 1 to 3 classes, scores
    among TINY_VALUES, random labels, and weights: None, or integer weights of each label
    ``[n, classes]`` from row weights (0 to 3), per-label weights (0 to 2) or both (their
    product), never all 0 (one weighted shape for all three: fewer compiled fits; per-label
    weights that repeat row weights fit as those do, tests/test_api.py); ``padded`` the same
    problem as ``(scores, labels, weights)`` of TINY_ROWS rows, the padding of weight 0."""
    rows = draw(st.integers(2, TINY_ROWS))
    classes = draw(st.integers(1, 3))
    values = st.sampled_from(TINY_VALUES.tolist())
    scores = draw(hnp.arrays(np.float32, (TINY_ROWS, classes), elements=values))
    labels = draw(hnp.arrays(np.bool_, (TINY_ROWS, classes)))
    kind = draw(st.sampled_from(["none", "rows", "labels", "both"]))
    if kind == "none":
        padded = (scores, labels, np.arange(TINY_ROWS) < rows)
        return scores[:rows], labels[:rows], None, padded
    weights = np.ones((TINY_ROWS, classes), np.int32)
    if kind in ("rows", "both"):
        weights *= draw(hnp.arrays(np.int32, (TINY_ROWS, 1), elements=st.integers(0, 3)))
    if kind in ("labels", "both"):
        weights *= draw(hnp.arrays(np.int32, (TINY_ROWS, classes), elements=st.integers(0, 2)))
    weights[rows:] = 0
    if not weights.any():
        weights[0] = 1
    return scores[:rows], labels[:rows], weights[:rows], (scores, labels, weights)


def _cuts(scores):
    """Per class, every threshold worth trying: below every score, each distinct score,
    and above every score (predicting nothing)."""
    return [np.r_[-np.inf, np.unique(column), np.inf] for column in scores.T]


def _confusion_at_cuts(scores, labels, weights, cuts):
    """Per class, ``(tp, fp, fn, tn)`` float64 ``[cuts]`` at each of its cuts."""
    found = []
    for c, thresholds in enumerate(cuts):
        predictions = scores[None, :, c : c + 1] > thresholds[:, None, None]  # [cuts, n, 1]
        column = None if weights is None else weights[:, c : c + 1]
        counts = reference.confusion_of_predictions(labels[:, c : c + 1], predictions, column)
        found.append([count[:, 0] for count in counts])
    return found


def _best_per_class_cuts(scores, labels, weights, objective, average, allowed=None):
    """The brute-force maximum of the objective over every combination of one cut per class
    (``allowed``: per class, a bool mask of the cuts it may take)."""
    confusion = _confusion_at_cuts(scores, labels, weights, _cuts(scores))
    choices = [
        np.arange(len(counts[0])) if allowed is None else np.flatnonzero(allowed[c])
        for c, counts in enumerate(confusion)
    ]
    grid = np.stack(np.meshgrid(*choices, indexing="ij")).reshape(len(choices), -1)
    counts = [
        np.stack([confusion[c][k][grid[c]] for c in range(len(choices))], axis=-1) for k in range(4)
    ]  # (tp, fp, fn, tn), each [combinations, classes]
    return float(np.max(reference.objective_score(objective, *counts, average)))


def _reached(scores, labels, weights, thresholds, objective, average):
    """The objective of ``scores > thresholds`` (NumPy, float64)."""
    predictions = scores > np.asarray(thresholds)
    return float(
        reference.objective_of_predictions(labels, predictions, objective, average, weights)
    )


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
@settings(max_examples=12, deadline=None)
@given(_tiny_problems())
def test_exact_reaches_the_brute_force_optimum_of_every_objective(problem):
    scores, labels, weights, padded = problem
    # Predicting the labels themselves: the true positives are every positive weight.
    for name, objective in OBJECTIVES.items():
        for average in AVERAGES:
            if (name, average) in NO_EXACT_SEARCH:
                with pytest.raises(ValueError, match="objective"):
                    jaxthresh.fit_exact(*padded, objective=objective, average=average)
                continue
            found = jaxthresh.fit_exact(*padded, objective=objective, average=average)
            reached = _reached(scores, labels, weights, found.thresholds, objective, average)
            best = _best_per_class_cuts(scores, labels, weights, objective, average)
            assert reached == pytest.approx(best, **TOLERANCE), (name, average)
            assert float(found.score) == pytest.approx(reached, **TOLERANCE), (name, average)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
@pytest.mark.filterwarnings("ignore:min_precision:jaxthresh.core.diagnostics.FitWarning")
@settings(max_examples=20, deadline=None)
@given(_tiny_problems())
def test_constrained_reaches_the_brute_force_optimum_among_precise_cuts(problem):
    # Per class, the cuts of precision >= 0.5 among those that predict something; a class
    # without any predicts nothing.
    scores, labels, weights, padded = problem
    allowed, met = [], []
    for tp, fp, _, _ in _confusion_at_cuts(scores, labels, weights, _cuts(scores)):
        precise = (tp + fp > 0) & (tp >= 0.5 * (tp + fp))
        met.append(precise.any())
        allowed.append(precise if precise.any() else np.arange(len(tp)) == len(tp) - 1)
    for average in AVERAGES:
        found = jaxthresh.fit_constrained(
            *padded, min_precision=0.5, objective="f1", average=average
        )
        assert np.asarray(found.met).tolist() == met, average
        reached = _reached(scores, labels, weights, found.thresholds, "f1", average)
        best = _best_per_class_cuts(scores, labels, weights, "f1", average, allowed)
        assert reached == pytest.approx(best, **TOLERANCE), average
        assert float(found.score) == pytest.approx(reached, **TOLERANCE), average


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
@settings(max_examples=8, deadline=None)
@given(_tiny_problems())
def test_default_reaches_the_brute_force_optimum_of_one_shared_threshold(problem):
    scores, labels, weights, padded = problem
    shared = np.r_[-np.inf, np.unique(scores), np.inf]
    predictions = scores[None] > shared[:, None, None]  # [thresholds, n, classes]
    confusion = reference.confusion_of_predictions(labels, predictions, weights)
    for name, objective in OBJECTIVES.items():
        for average in AVERAGES:
            found = jaxthresh.fit_default(*padded, objective=objective, average=average)
            assert np.all(np.asarray(found.thresholds) == found.threshold)
            reached = _reached(scores, labels, weights, found.thresholds, objective, average)
            best = np.max(reference.objective_score(objective, *confusion, average))
            assert reached == pytest.approx(float(best), **TOLERANCE), (name, average)
