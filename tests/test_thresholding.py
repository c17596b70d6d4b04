import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from tests.conftest import candidate_thresholds, random_problem


def test_apply_thresholds_is_strictly_greater():
    scores = np.array([[0.2, 0.5], [0.5, 0.7]], np.float32)
    np.testing.assert_array_equal(
        jaxthresh.apply_thresholds(scores, [0.2, 0.6]), [[False, False], [True, True]]
    )
    np.testing.assert_array_equal(
        jaxthresh.apply_thresholds(scores, 0.5), [[False, False], [False, True]]
    )


def test_fit_default_with_a_given_threshold(problem):
    scores, labels = problem
    result = jaxthresh.fit_default(scores, labels, 0.3)
    np.testing.assert_array_equal(result.thresholds, np.full(5, 0.3, np.float32))
    assert float(result.threshold) == pytest.approx(0.3)


def _brute_force_best(scores, labels, average, beta):
    return max(
        jaxthresh.f1_score(labels, scores > t, average=average, beta=beta)
        for t in candidate_thresholds(scores)
    )


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 12),
    st.integers(1, 4),
    st.sampled_from(["micro", "macro"]),
    st.sampled_from([1.0, 0.5, 2.0]),
    st.booleans(),
)
def test_best_global_threshold_equals_brute_force(seed, rows, classes, average, beta, ties):
    scores, labels = random_problem(seed, rows, classes, ties=ties)
    result = jaxthresh.fit_default(scores, labels, average=average, beta=beta)
    reached = jaxthresh.f1_score(
        labels, jaxthresh.apply_thresholds(scores, result.thresholds), average=average, beta=beta
    )
    assert reached == pytest.approx(_brute_force_best(scores, labels, average, beta), abs=1e-6)


def test_best_global_threshold_reports_the_score_it_reaches(problem):
    scores, labels = problem
    weights = np.ones(len(scores), np.int32)
    for average in ("micro", "macro"):
        threshold, score = jax.jit(jaxthresh.best_global_threshold, static_argnames="average")(
            scores, labels, weights, average=average
        )
        assert float(score) == pytest.approx(
            jaxthresh.f1_score(labels, scores > threshold, average=average), abs=1e-6
        )


def test_best_global_threshold_can_predict_nothing():
    scores = np.array([[0.9], [0.8]], np.float32)
    labels = np.zeros((2, 1), bool)
    result = jaxthresh.fit_default(scores, labels)
    assert not np.asarray(jaxthresh.apply_thresholds(scores, result.thresholds)).any()
