import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh import objectives
from jaxthresh.core.histogram import cell_centres
from jaxthresh.methods.global_threshold import best_global_threshold, best_histogram_threshold
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
@settings(max_examples=15, deadline=None)
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
        padded_scores, padded_labels, weights, objective=objectives.fbeta(beta), average=average
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
    f1 = objectives.get("f1")
    multiplicities = np.random.default_rng(0).integers(0, 4, len(scores)).astype(np.int32)
    for weights in (np.ones(len(scores), np.int32), multiplicities):
        for average in ("micro", "macro"):
            threshold, score = search(
                scores, labels, weights[:, None], objective=f1, average=average
            )
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


def _cells_as_rows(histogram):
    """A histogram's cells as weighted rows at their centres: each cell's positive and
    negative rows as two elements, ``(scores, labels, weights)``, ``[2 * cells, classes]``."""
    centres = cell_centres(histogram).T
    positives = histogram.positives.T
    scores = jnp.concatenate([centres, centres])
    labels = jnp.concatenate([jnp.ones_like(centres, bool), jnp.zeros_like(centres, bool)])
    return scores, labels, jnp.concatenate([positives, histogram.counts.T - positives])


@pytest.mark.filterwarnings("ignore:labels:jaxthresh.core.diagnostics.FitWarning")
@settings(max_examples=6, deadline=None)
@given(
    st.integers(0, 10_000),
    st.sampled_from(["micro", "macro"]),
    st.sampled_from([1.0, 2.0]),
    st.sampled_from([2, 5, 64]),
)
def test_best_histogram_threshold_is_that_of_the_cells_as_rows(seed, average, beta, bins):
    """One sort of the cells gives the threshold and score of the search on the cells as
    weighted rows (each cell's positive and negative rows two elements at its centre)."""
    scores, labels = random_problem(seed, rows=40, classes=4, ties=seed % 2 == 0)
    histogram = jaxthresh.histogram_pass(scores, labels, bins=bins)
    search = jax.jit(best_histogram_threshold, static_argnames="average")
    objective = objectives.fbeta(beta)
    threshold, score = search(histogram, objective, average=average)
    _, expected_score = jax.jit(best_global_threshold, static_argnames=("average", "slots"))(
        *_cells_as_rows(histogram), objective=objective, average=average, slots=bins
    )
    assert float(score) == pytest.approx(float(expected_score), abs=1e-6)
    # The score is reached at the threshold, the cells' rows counted at their centres.
    centres = np.asarray(cell_centres(histogram))
    predicted = centres > float(threshold)
    # (The cut itself may differ where two cuts tie: their F-beta, equal in exact
    # arithmetic, can round apart in different compiled programs.)
    true_positives = np.sum(np.where(predicted, histogram.positives, 0), axis=1)
    counted = np.sum(np.where(predicted, histogram.counts, 0), axis=1)
    positives = np.sum(histogram.positives, axis=1)
    reached = reference.fbeta(true_positives, counted, positives, average, beta)
    assert reached == pytest.approx(float(score), abs=1e-6)


def test_best_histogram_threshold_sorts_on_the_host_on_cpu():
    """The one sort of the cells: a NumPy callback on CPU, XLA's sort for a GPU."""
    scores, labels = random_problem(0, rows=40, classes=4)
    histogram = jaxthresh.histogram_pass(scores, labels, bins=8)
    traced = jax.jit(best_histogram_threshold, static_argnames="average").trace(
        histogram, objectives.get("f1"), average="micro"
    )
    on_cpu = traced.lower(lowering_platforms=("cpu",)).as_text()
    for_gpu = traced.lower(lowering_platforms=("cuda",)).as_text()
    assert "callback" in on_cpu and "stablehlo.sort" not in on_cpu
    assert "stablehlo.sort" in for_gpu and "callback" not in for_gpu
