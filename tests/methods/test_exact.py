import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh.core.validation import Rows
from jaxthresh.methods import configure
from tests.conftest import candidate_thresholds, padded_problem, random_problem
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
@settings(max_examples=200, deadline=None)
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
    result = jaxthresh.fit_exact(padded_scores, padded_labels, weights, average=average, beta=beta)
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


@pytest.mark.parametrize("average", ["micro", "macro"])
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
