import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxthresh
from jaxthresh import objectives
from jaxthresh.core import metrics
from jaxthresh.core.validation import Rows
from tests.conftest import random_problem
from tests.methods import reference

LABELS = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]])
PREDICTIONS = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0]])
# Class 0: TP 1, FP 1, FN 1 -> F1 1/2. Class 1: TP 1, FP 1, FN 1 -> 1/2.
# Class 2: no positives, no predictions -> zero_division. Micro: TP 2, PP 4, P 4 -> 1/2.


def test_f1_hand_worked():
    assert jaxthresh.f1_score(LABELS, PREDICTIONS) == pytest.approx(0.5)
    assert jaxthresh.f1_score(LABELS, PREDICTIONS, average="macro") == pytest.approx(2 / 3)
    assert jaxthresh.f1_score(
        LABELS, PREDICTIONS, average="macro", zero_division=0.0
    ) == pytest.approx(1 / 3)


def test_fbeta_hand_worked():
    labels = np.array([[1], [1], [1], [0]])
    predictions = np.array([[1], [0], [0], [1]])
    # TP 1, PP 2, P 3: F2 = 5 * 1 / (2 + 4 * 3) = 5/14; F0.5 = 1.25 / (2 + 0.25 * 3).
    assert jaxthresh.f1_score(labels, predictions, beta=2.0) == pytest.approx(5 / 14)
    assert jaxthresh.f1_score(labels, predictions, beta=0.5) == pytest.approx(1.25 / 2.75)


def test_f1_score_ratio_is_float64():
    assert jaxthresh.f1_score([[1], [1], [1]], [[1], [1], [0]]) == 0.8


def test_f1_score_sample_weight_repeats_rows(problem):
    scores, labels = problem
    predictions = scores > 0.5
    weights = np.arange(len(scores)) % 3
    repeated = np.repeat(np.arange(len(scores)), weights)
    for average in ("micro", "macro"):
        plain = jaxthresh.f1_score(labels[repeated], predictions[repeated], average=average)
        for given_weights in (weights, weights.astype(np.float32)):
            weighted = jaxthresh.f1_score(
                labels, predictions, average=average, sample_weight=given_weights
            )
            assert weighted == pytest.approx(plain, abs=1e-6)
        # bool weights: a row is in or out.
        kept = weights > 0
        assert jaxthresh.f1_score(
            labels, predictions, average=average, sample_weight=kept
        ) == pytest.approx(jaxthresh.f1_score(labels[kept], predictions[kept], average=average))


def test_f1_score_inside_jit_and_vmap(problem):
    scores, labels = problem
    thresholds = np.stack([np.full(5, t, np.float32) for t in (0.3, 0.5, 0.7)])

    def score(t):
        return jaxthresh.f1_score(labels, scores > t, average="macro")

    batched = jax.jit(jax.vmap(score))(thresholds)
    assert batched.dtype == jnp.float32
    for t, value in zip(thresholds, batched, strict=True):
        assert float(value) == pytest.approx(score(t), abs=1e-6)


def test_surrogate_fbeta_counts_weighted_rows_once(problem):
    scores, labels = problem
    thresholds = np.full(scores.shape[1], 0.5, np.float32)
    weights = np.arange(len(scores)) % 3
    repeated = np.repeat(np.arange(len(scores)), weights)
    surrogate = jax.jit(jaxthresh.surrogate_fbeta)
    weighted = surrogate(scores, labels, thresholds, 10.0, sample_weight=weights)
    plain = surrogate(scores[repeated], labels[repeated], thresholds, 10.0)
    assert float(weighted) == pytest.approx(float(plain), abs=1e-6)
    as_float = surrogate(scores, labels, thresholds, 10.0, sample_weight=weights.astype(np.float32))
    assert float(as_float) == pytest.approx(float(plain), abs=1e-6)


def test_perfect_and_empty_predictions():
    assert jaxthresh.f1_score(LABELS, LABELS) == 1.0
    assert jaxthresh.f1_score(LABELS, np.zeros_like(LABELS)) == 0.0
    nothing = np.zeros((3, 2))
    assert jaxthresh.f1_score(nothing, nothing) == 1.0
    assert jaxthresh.f1_score(nothing, nothing, zero_division=0.0) == 0.0


def _reference_f1(labels, predictions, average):
    tp = (labels & predictions).sum(0)
    pp, p = predictions.sum(0), labels.sum(0)
    if average == "micro":
        tp, pp, p = tp.sum(), pp.sum(), p.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(pp + p == 0, 1.0, 2 * tp / (pp + p))
    return float(np.mean(f1))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(bool, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12)),
    st.data(),
    st.sampled_from(["micro", "macro"]),
)
def test_f1_matches_reference(labels, data, average):
    predictions = data.draw(hnp.arrays(bool, labels.shape))
    # Rows of no label and no prediction change no count: padded to 12 rows, the shapes
    # (and compilations) vary with the number of classes only.
    padding = np.zeros((12 - labels.shape[0], labels.shape[1]), bool)
    padded = [np.concatenate([a, padding]) for a in (labels, predictions)]
    assert jaxthresh.f1_score(*padded, average=average) == pytest.approx(
        _reference_f1(labels, predictions, average), abs=1e-6
    )


def test_counts_are_exact_past_2_to_the_24():
    rows, classes = 4100, 4100  # 16,810,000 items > 2**24 = 16,777,216
    labels = np.ones((rows, classes), bool)
    predictions = np.ones((rows, classes), bool)
    predictions[:3, 0] = False
    labels[5, 1] = False
    counts = jax.jit(jaxthresh.confusion_counts)(labels, predictions)
    assert int(jnp.sum(counts.true_positives, dtype=jnp.int32)) == rows * classes - 4
    assert int(jnp.sum(counts.predicted_positives, dtype=jnp.int32)) == rows * classes - 3
    assert int(jnp.sum(counts.positives, dtype=jnp.int32)) == rows * classes - 1
    # float32 cannot even represent these totals: 2**24 + 1 rounds down.
    assert float(np.float32(rows * classes - 3)) != rows * classes - 3
    expected = 2 * (rows * classes - 4) / (2 * rows * classes - 4)
    assert jaxthresh.f1_score(labels, predictions) == pytest.approx(expected, rel=1e-7)


def test_weighted_counts_equal_counts_of_repeated_rows(problem):
    scores, labels = problem
    predictions = scores > 0.5
    weights = np.arange(len(scores)) % 3
    weighted = jaxthresh.confusion_counts(labels, predictions, weights)
    repeated = np.repeat(np.arange(len(scores)), weights)
    plain = jaxthresh.confusion_counts(labels[repeated], predictions[repeated])
    for a, b in zip(weighted, plain, strict=True):
        assert a.dtype == jnp.int32
        np.testing.assert_array_equal(a, b)
    floats = jaxthresh.confusion_counts(labels, predictions, weights.astype(np.float32))
    for a, b in zip(floats, plain, strict=True):
        assert a.dtype == jnp.float32
        np.testing.assert_array_equal(a, np.asarray(b, np.float32))
    kept = jaxthresh.confusion_counts(labels, predictions, weights > 0)
    dropped = jaxthresh.confusion_counts(labels[weights > 0], predictions[weights > 0])
    for a, b in zip(kept, dropped, strict=True):
        assert a.dtype == jnp.int32
        np.testing.assert_array_equal(a, b)


def test_confusion_counts_checks_shapes():
    with pytest.raises(ValueError, match="labels: shape"):
        jaxthresh.confusion_counts(np.ones((3, 2)), np.ones((2, 3)))


def test_count_dtype():
    assert metrics.count_dtype(jnp.bool_) == jnp.int32
    assert metrics.count_dtype(jnp.int32) == jnp.int32
    assert metrics.count_dtype(jnp.float32) == jnp.float32


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_surrogate_fbeta_value_is_the_exact_score(problem, average):
    scores, labels = problem
    thresholds = np.linspace(0.3, 0.6, scores.shape[1]).astype(np.float32)
    value, grad = jax.jit(
        jax.value_and_grad(
            lambda t: jaxthresh.surrogate_fbeta(scores, labels, t, 20.0, average=average)
        )
    )(thresholds)
    exact = jaxthresh.f1_score(labels, scores > thresholds, average=average)
    assert float(value) == pytest.approx(exact, abs=1e-6)
    assert grad.shape == thresholds.shape and np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_f1_score_validates_inputs():
    with pytest.raises(ValueError, match="labels: shape"):
        jaxthresh.f1_score(np.ones((3, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="predictions: values must be 0 or 1"):
        jaxthresh.f1_score(np.ones((3, 2)), np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="average"):
        jaxthresh.f1_score(np.ones((3, 2)), np.ones((3, 2)), average="samples")
    with pytest.raises(ValueError, match="labels: is empty"):
        jaxthresh.f1_score(np.ones((0, 2)), np.ones((0, 2)))
    with pytest.raises(ValueError, match="beta"):
        jaxthresh.f1_score(np.ones((3, 2)), np.ones((3, 2)), beta=0.0)
    with pytest.raises(ValueError, match=r"sample_weight: expected shape \(3,\)"):
        jaxthresh.f1_score(np.ones((3, 2)), np.ones((3, 2)), sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="sample_weight: must be finite and >= 0"):
        jaxthresh.f1_score(np.ones((3, 2)), np.ones((3, 2)), sample_weight=[1, -1, 1])


def test_fbeta_from_counts_batches_under_vmap():
    scores, labels = random_problem(3)
    thresholds = np.stack([np.full(5, t, np.float32) for t in (0.3, 0.5, 0.7)])

    def score(t):
        counts = jaxthresh.confusion_counts(labels, scores > t)
        return jaxthresh.fbeta_from_counts(counts)

    batched = jax.vmap(score)(thresholds)
    for t, value in zip(thresholds, batched, strict=True):
        assert float(value) == pytest.approx(jaxthresh.f1_score(labels, scores > t))


def test_fbeta_from_counts_checks_average():
    counts = jaxthresh.confusion_counts(LABELS, PREDICTIONS)
    with pytest.raises(ValueError, match="average: must be one of micro, macro, weighted"):
        jaxthresh.fbeta_from_counts(counts, average="samples")


def test_fbeta_ratio_numpy_and_jax_agree():
    tp, pp, p = np.array([1, 0, 0, 3]), np.array([2, 0, 1, 3]), np.array([3, 0, 2, 5])
    for beta in (0.5, 1.0, 2.0):
        expected = np.where(pp + p == 0, 0.25, (1 + beta**2) * tp / np.maximum(pp + beta**2 * p, 1))
        exact = metrics.fbeta_ratio(tp, pp, p, beta, 0.25, np)
        assert exact.dtype == np.float64
        np.testing.assert_allclose(exact, expected, rtol=1e-15)
        traced = metrics.fbeta_ratio(jnp.asarray(tp), jnp.asarray(pp), jnp.asarray(p), beta, 0.25)
        assert traced.dtype == jnp.float32
        np.testing.assert_allclose(traced, expected, rtol=1e-6)


@pytest.mark.parametrize("average", ["micro", "macro", "weighted"])
def test_score_above_and_row_counts_are_the_weighted_scores(problem, average):
    scores, labels = problem
    thresholds = np.linspace(0.3, 0.6, scores.shape[1]).astype(np.float32)
    for weights in (
        np.arange(len(scores)) % 3 > 0,
        (np.arange(len(scores)) % 3).astype(np.int32),
        (np.arange(len(scores)) % 3).astype(np.float32) / 2,
    ):
        rows = Rows(jnp.asarray(scores), jnp.asarray(labels), jnp.asarray(weights))
        counts = metrics.row_counts(rows, rows.scores > thresholds)
        expected = jaxthresh.confusion_counts(labels, scores > thresholds, weights)
        for a, b in zip(counts, expected, strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
        value = metrics.score_above(rows, thresholds, objectives.fbeta(2.0), average)
        exact = reference.objective_of_predictions(
            labels, scores > thresholds, objectives.fbeta(2.0), average, weights
        )
        assert float(value) == pytest.approx(float(exact), abs=1e-6)
        if average != "weighted":
            exact = jaxthresh.f1_score(
                labels, scores > thresholds, average=average, beta=2.0, sample_weight=weights
            )
            assert float(value) == pytest.approx(exact, abs=1e-6)


def test_weighted_counts_exact_and_float_agree(problem):
    scores, labels = problem
    weights = (np.arange(len(scores)) % 3).astype(np.int32)[:, None]
    positive_weights = np.where(labels, weights, 0)
    predicted = scores > 0.5
    exact = metrics.weighted_counts(jnp.asarray(predicted), positive_weights, weights)
    floats = metrics.weighted_counts(jnp.asarray(predicted, jnp.float32), positive_weights, weights)
    assert exact.true_positives.dtype == jnp.int32
    expected = jaxthresh.confusion_counts(labels, predicted, weights[:, 0])
    for a, b, c in zip(exact, floats, expected, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, np.asarray(c, np.float32))


def test_element_weights_in_the_count_dtype():
    labels = jnp.array([[True, False], [False, True], [True, True]])
    for weights, dtype in (
        (jnp.array([True, False, True]), jnp.int32),
        (jnp.array([2, 0, 1], jnp.int32), jnp.int32),
        (jnp.array([0.5, 0.0, 1.0], jnp.float32), jnp.float32),
    ):
        positive_weights, row_weights = metrics.element_weights(labels, weights)
        assert positive_weights.dtype == row_weights.dtype == dtype
        assert row_weights.shape == (3, 1)
        expected = np.asarray(weights, dtype)[:, None]
        np.testing.assert_array_equal(row_weights, expected)
        np.testing.assert_array_equal(positive_weights, np.where(labels, expected, 0))


@pytest.mark.parametrize("kind", ["bool", "int", "float", "per-label int"])
def test_true_negatives_are_the_weight_of_negative_labels_not_predicted(problem, kind):
    scores, labels = problem
    predictions = scores > 0.5
    rng = np.random.default_rng(5)
    weights = {
        "bool": rng.random(len(scores)) < 0.7,
        "int": rng.integers(0, 4, len(scores)),
        "float": rng.integers(0, 9, len(scores)) / 4,
        "per-label int": rng.integers(0, 4, scores.shape),
    }[kind]
    element = weights if weights.ndim == 2 else weights[:, None]
    counts = jaxthresh.confusion_counts(labels, predictions, weights)
    expected = (element * (~labels & ~predictions)).sum(0)
    np.testing.assert_array_equal(counts.true_negatives, expected)
    tp, fp, fn, tn = counts.confusion()
    np.testing.assert_array_equal(fp, (element * (~labels & predictions)).sum(0))
    np.testing.assert_array_equal(fn, (element * (labels & ~predictions)).sum(0))
    np.testing.assert_array_equal(tp + fp + fn + tn, np.broadcast_to(element, scores.shape).sum(0))


def test_counts_score_any_objective_as_scikit_learn_does(problem):
    from sklearn import metrics as sk

    scores, labels = problem
    predictions = scores > 0.5
    confusion = jaxthresh.confusion_counts(labels, predictions).confusion()
    jaccard = jaxthresh.objectives.get("jaccard").averaged(confusion, "macro")
    expected = sk.jaccard_score(labels, predictions, average="macro", zero_division=1.0)
    assert float(jaccard) == pytest.approx(expected, abs=1e-6)
    mcc = jaxthresh.objectives.get("mcc").averaged(confusion, "micro")
    assert float(mcc) == pytest.approx(
        sk.matthews_corrcoef(labels.ravel(), predictions.ravel()), abs=1e-6
    )


@pytest.mark.parametrize("average", ["micro", "macro", "weighted"])
def test_score_predictions_equals_scikit_learn_under_jit_and_vmap_too(average):
    from sklearn.metrics import jaccard_score

    rng = np.random.default_rng(3)
    labels = rng.random((4, 50, 5)) < 0.3
    predictions = rng.random((4, 50, 5)) < 0.4
    weights = rng.integers(0, 3, (4, 50))
    expected = [
        jaccard_score(y, p, average=average, sample_weight=w, zero_division=1.0)
        for y, p, w in zip(labels, predictions, weights, strict=True)
    ]

    def score(y, p, w):
        return jaxthresh.score_predictions(
            y, p, objective="jaccard", average=average, sample_weight=w
        )

    concrete = [score(*problem) for problem in zip(labels, predictions, weights, strict=True)]
    np.testing.assert_allclose(concrete, expected, rtol=1e-6)
    np.testing.assert_allclose(
        jax.jit(score)(labels[0], predictions[0], weights[0]), expected[0], rtol=1e-6
    )
    np.testing.assert_allclose(jax.vmap(score)(labels, predictions, weights), expected, rtol=1e-6)


def test_score_predictions_checks_its_arguments():
    labels = np.eye(3, dtype=bool)
    with pytest.raises(ValueError, match=r"^objective: unknown name"):
        jaxthresh.score_predictions(labels, labels, objective="nope")
    with pytest.raises(ValueError, match=r"^average: "):
        jaxthresh.score_predictions(labels, labels, average="samples")
    with pytest.raises(ValueError, match=r"^labels: "):
        jaxthresh.score_predictions(labels[:2], labels)
