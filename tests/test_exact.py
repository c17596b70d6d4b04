import itertools

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from tests.conftest import candidate_thresholds, random_problem


def _brute_force(scores, labels, average, beta):
    """The best F-beta over every combination of per-class thresholds."""
    per_class = [candidate_thresholds(scores[:, c]) for c in range(scores.shape[1])]
    best = -1.0
    for thresholds in itertools.product(*per_class):
        predictions = scores > np.asarray(thresholds, np.float32)
        best = max(best, jaxthresh.f1_score(labels, predictions, average=average, beta=beta))
    return best


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 100_000),
    st.integers(1, 7),
    st.integers(1, 3),
    st.sampled_from(["micro", "macro"]),
    st.sampled_from([1.0, 0.5, 2.0]),
    st.booleans(),
)
def test_exact_equals_brute_force(seed, rows, classes, average, beta, ties):
    scores, labels = random_problem(seed, rows, classes, ties=ties)
    result = jaxthresh.fit_exact(scores, labels, average=average, beta=beta)
    reached = jaxthresh.f1_score(
        labels, jaxthresh.apply_thresholds(scores, result.thresholds), average=average, beta=beta
    )
    best = _brute_force(scores, labels, average, beta)
    assert reached == pytest.approx(best, abs=1e-6)
    assert float(result.score) == pytest.approx(reached, abs=1e-6)


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_exact_is_at_least_every_other_fit(average):
    scores, labels = random_problem(11, rows=300, classes=8)
    exact = jaxthresh.fit_exact(scores, labels, average=average)
    sgl = jaxthresh.fit_sgl(scores, labels, init=0.5, average=average)
    default = jaxthresh.fit_default(scores, labels, average=average)
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


def test_class_without_positives_predicts_nothing():
    scores, labels = random_problem(12, rows=40, classes=3)
    labels[:, 1] = False
    result = jaxthresh.fit_exact(scores, labels)
    assert not np.asarray(jaxthresh.apply_thresholds(scores, result.thresholds))[:, 1].any()


def test_micro_converges_in_a_few_passes_and_vmaps():
    scores, labels = random_problem(13, rows=500, classes=20)
    result = jaxthresh.fit_exact(scores, labels)
    assert 1 <= int(result.steps) <= 10
    weights = np.stack([np.arange(500) % 2 == f for f in (0, 1)]).astype(np.int32)
    batched = jax.vmap(
        lambda w: jaxthresh.exact.exact_fit_weighted(scores, labels, w, average="micro")
    )(weights)
    for fold in range(2):
        rows = weights[fold] == 1
        single = jaxthresh.fit_exact(scores[rows], labels[rows])
        np.testing.assert_allclose(batched.thresholds[fold], single.thresholds)
        assert float(batched.score[fold]) == pytest.approx(float(single.score))


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


def test_predict_nothing_holds_for_float64_scores():
    scores = np.array([[0.9], [0.2]])  # float64; 0.9 is above float32(0.9)
    labels = np.zeros((2, 1))
    thresholds = np.asarray(jaxthresh.fit_exact(scores, labels).thresholds)
    assert not (scores > thresholds).any()
