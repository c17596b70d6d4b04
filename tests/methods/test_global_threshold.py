import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh.methods.global_threshold import best_global_threshold
from tests.conftest import candidate_thresholds, padded_problem, random_problem
from tests.methods import reference


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
    result = jaxthresh.fit_default(scores, labels, threshold=0.3)
    np.testing.assert_array_equal(result.thresholds, np.full(5, 0.3, np.float32))
    assert float(result.threshold) == pytest.approx(0.3)


def _brute_force_best(scores, labels, average, beta):
    """The best F-beta of one threshold shared by every class (NumPy, float64)."""
    thresholds = candidate_thresholds(scores)
    predictions = scores[None] > thresholds[:, None, None].astype(np.float32)
    return float(np.max(reference.fbeta_of_predictions(labels, predictions, average, beta)))


# As in test_exact.py, so that the two share the compiled scoring of their examples.
MAX_ROWS, MAX_CLASSES = 8, 3


@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, MAX_ROWS),
    st.integers(1, MAX_CLASSES),
    st.sampled_from(["micro", "macro"]),
    st.sampled_from([1.0, 0.5, 2.0]),
    st.booleans(),
)
def test_best_global_threshold_equals_brute_force(seed, rows, classes, average, beta, ties):
    # Padded to MAX_ROWS rows of weight 0, so that examples share one compiled fit (and
    # one compiled score) per number of classes and average.
    padded_scores, padded_labels, weights, (scores, labels) = padded_problem(
        seed, rows, classes, max_rows=MAX_ROWS, ties=ties
    )
    result = jaxthresh.fit_default(
        padded_scores, padded_labels, weights, average=average, beta=beta
    )
    predictions = jaxthresh.apply_thresholds(padded_scores, result.thresholds)
    reached = jaxthresh.f1_score(
        padded_labels, predictions, average=average, beta=beta, sample_weight=weights
    )
    assert reached == pytest.approx(_brute_force_best(scores, labels, average, beta), abs=1e-6)
    assert reached == pytest.approx(
        reference.fbeta_of_predictions(
            labels, scores > np.asarray(result.thresholds), average, beta
        ),
        abs=1e-6,
    )


def test_best_global_threshold_reports_the_score_it_reaches(problem):
    scores, labels = problem
    search = jax.jit(best_global_threshold, static_argnames="average")
    multiplicities = np.random.default_rng(0).integers(0, 4, len(scores)).astype(np.int32)
    for weights in (np.ones(len(scores), np.int32), multiplicities):
        for average in ("micro", "macro"):
            threshold, score = search(scores, labels, weights[:, None], average=average)
            assert float(score) == pytest.approx(
                jaxthresh.f1_score(
                    labels, scores > threshold, average=average, sample_weight=weights
                ),
                abs=1e-6,
            )


@pytest.mark.parametrize("average", ["macro"])  # micro: tests/test_api.py
def test_integer_weights_are_repeated_rows(average):
    scores, labels = random_problem(7, rows=60, classes=4, ties=True)
    # Multiplicities 0, 1 and 2 summing to 60: the repeated rows have the same shape (and
    # with weights 1, the same dtype), so both fits share one compilation.
    weights = np.random.default_rng(7).permutation(np.repeat(np.arange(3, dtype=np.int32), 20))
    repeated = np.repeat(np.arange(60), weights)
    weighted = jaxthresh.fit_default(scores, labels, weights, average=average)
    expected = jaxthresh.fit_default(
        scores[repeated], labels[repeated], np.ones(60, np.int32), average=average
    )
    reached = jaxthresh.f1_score(
        labels, scores > weighted.threshold, average=average, sample_weight=weights
    )
    best = jaxthresh.f1_score(
        labels[repeated], scores[repeated] > expected.threshold, average=average
    )
    assert reached == pytest.approx(best, abs=1e-6)


@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
def test_best_global_threshold_can_predict_nothing():
    scores = np.array([[0.9], [0.8]], np.float32)
    labels = np.zeros((2, 1), bool)
    result = jaxthresh.fit_default(scores, labels)
    assert not np.asarray(jaxthresh.apply_thresholds(scores, result.thresholds)).any()
