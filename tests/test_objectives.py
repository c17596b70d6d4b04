"""Objectives as values: every named objective equals scikit-learn's metric on the same
predictions, per class and averaged; values are pytrees that jit and vmap carry; bad
objectives are one ValueError naming ``objective``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics

from jaxthresh import objectives
from jaxthresh.objectives import Confusion


def _problem(seed, rows=40, classes=5):
    rng = np.random.default_rng(seed)
    labels = rng.random((rows, classes)) < rng.uniform(0.05, 0.6, classes)
    predictions = rng.random((rows, classes)) < rng.uniform(0.05, 0.6, classes)
    return labels, predictions


def _counts(labels, predictions) -> Confusion:
    return Confusion(
        (labels & predictions).sum(0),
        (~labels & predictions).sum(0),
        (labels & ~predictions).sum(0),
        (~labels & ~predictions).sum(0),
    )


def _columns(metric, labels, predictions):
    return np.array([metric(labels[:, j], predictions[:, j]) for j in range(labels.shape[1])])


# scikit-learn's metric per class, and micro (on the labels pooled over classes).
REFERENCE = {
    "f1": lambda y, p: metrics.f1_score(y, p, zero_division=1.0),
    "jaccard": lambda y, p: metrics.jaccard_score(y, p, zero_division=1.0),
    "precision": lambda y, p: metrics.precision_score(y, p, zero_division=1.0),
    "recall": lambda y, p: metrics.recall_score(y, p, zero_division=1.0),
    "accuracy": metrics.accuracy_score,
    "mcc": metrics.matthews_corrcoef,
}


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
@pytest.mark.parametrize("name", list(REFERENCE))
def test_named_objectives_equal_scikit_learn(name, seed):
    labels, predictions = _problem(seed)
    objective = objectives.get(name)
    counts = _counts(labels, predictions)
    expected = _columns(REFERENCE[name], labels, predictions)
    np.testing.assert_allclose(objective.per_class(counts), expected, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(objective.averaged(counts, "macro"), expected.mean(), atol=1e-6)
    micro = REFERENCE[name](labels.ravel(), predictions.ravel())
    np.testing.assert_allclose(objective.averaged(counts, "micro"), micro, rtol=2e-6, atol=1e-6)
    support = labels.sum(0)
    if support.sum():
        weighted = (expected * support).sum() / support.sum()
        np.testing.assert_allclose(objective.averaged(counts, "weighted"), weighted, atol=1e-6)


def test_balanced_accuracy_equals_scikit_learn_per_class():
    labels, predictions = _problem(3)
    counts = _counts(labels, predictions)
    expected = _columns(metrics.balanced_accuracy_score, labels, predictions)
    np.testing.assert_allclose(
        objectives.get("balanced_accuracy").per_class(counts), expected, rtol=2e-6
    )


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_fbeta_equals_scikit_learn(beta):
    labels, predictions = _problem(4)
    counts = _counts(labels, predictions)
    expected = metrics.fbeta_score(labels, predictions, beta=beta, average=None, zero_division=1.0)
    np.testing.assert_allclose(objectives.fbeta(beta).per_class(counts), expected, rtol=2e-6)


def test_utility_is_the_total_gain_and_takes_per_class_coefficients():
    labels, predictions = _problem(5)
    counts = _counts(labels, predictions)
    tp, fp, fn, _ = (np.asarray(c, np.float64) for c in counts)
    gain = objectives.utility(tp=1.0, fp=-0.2, fn=-1.0)
    np.testing.assert_allclose(gain.per_class(counts), tp - 0.2 * fp - fn, rtol=1e-6)
    np.testing.assert_allclose(gain.averaged(counts, "micro"), (tp - 0.2 * fp - fn).sum())
    costs = -np.arange(1.0, 6.0)
    per_class = objectives.utility(tp=1.0, fn=costs)
    np.testing.assert_allclose(per_class.per_class(counts), tp + costs * fn, rtol=1e-6)
    assert gain.fraction(0, 0).denominator.tolist() == [0, 0, 0, 0, 1]


def test_custom_objectives_score_as_their_function():
    labels, predictions = _problem(6)
    counts = _counts(labels, predictions)
    youden = objectives.custom(lambda tp, fp, fn, tn: tp / (tp + fn) + tn / (tn + fp) - 1)
    expected = _columns(metrics.balanced_accuracy_score, labels, predictions) * 2 - 1
    np.testing.assert_allclose(youden.per_class(counts), expected, rtol=1e-5, atol=1e-6)
    assert youden.fraction(1, 1) is None
    assert objectives.get("mcc").fraction(1, 1) is None


def test_objectives_are_pytrees_that_jit_and_vmap_carry():
    labels, predictions = _problem(7)
    counts = _counts(labels, predictions)
    betas = jnp.array([0.5, 1.0, 2.0])
    swept = jax.vmap(lambda b: objectives.fbeta(b).averaged(counts, "macro"))(betas)
    one_by_one = [objectives.fbeta(float(b)).averaged(counts, "macro") for b in betas]
    np.testing.assert_allclose(swept, one_by_one, rtol=1e-6)
    stacked = jax.tree.map(lambda *v: jnp.stack(v), *(objectives.fbeta(b) for b in (0.5, 2.0)))
    scored = jax.jit(jax.vmap(lambda o: o.averaged(counts)))(stacked)
    np.testing.assert_allclose(scored, [objectives.fbeta(b).averaged(counts) for b in (0.5, 2.0)])
    leaves, structure = jax.tree.flatten(objectives.utility(tp=1.0, fp=-1.0))
    assert len(leaves) == 1 and leaves[0].shape == (4,)
    assert jax.tree.unflatten(structure, leaves).name == "utility"


def test_counts_of_any_batch_shape():
    labels, predictions = _problem(8)
    counts = _counts(labels, predictions)
    batched = Confusion(*(np.stack([c, c]) for c in counts))
    for name in ("f1", "balanced_accuracy", "mcc"):
        objective = objectives.get(name)
        for average in objectives.AVERAGES:
            once = objective.averaged(counts, average)
            np.testing.assert_allclose(objective.averaged(batched, average), [once, once])


def test_empty_classes_score_the_zero_division_value():
    empty = Confusion(*(np.zeros(2) for _ in range(3)), np.array([5.0, 0.0]))
    assert objectives.get("f1").per_class(empty).tolist() == [1.0, 1.0]
    assert objectives.get("jaccard").per_class(empty, zero_division=0.0).tolist() == [0.0, 0.0]
    assert objectives.get("mcc").per_class(empty).tolist() == [0.0, 0.0]
    assert objectives.get("balanced_accuracy").per_class(empty).tolist() == [1.0, 0.0]


BAD = {
    "an unknown name": (lambda: "f2", r"unknown name 'f2'"),
    "a number": (lambda: 1.0, r"expected a name or a jaxthresh\.objectives value"),
    "beta of 0": (lambda: objectives.fbeta(0.0), r"beta must be between"),
    "beta NaN": (lambda: objectives.fbeta(float("nan")), r"beta must be between"),
    "beta a list": (lambda: objectives.fbeta([1.0, 2.0]), r"beta must be a number"),
    "utility NaN": (lambda: objectives.utility(tp=float("nan")), r"must be finite"),
    "utility all 0": (lambda: objectives.utility(), r"all 0"),
    "utility lengths": (lambda: objectives.utility(tp=[1, 2], fp=[1, 2, 3]), r"the same length"),
    "utility 2-D": (lambda: objectives.utility(tp=[[1.0]]), r"a number or one per class"),
    "utility of 3 classes": (lambda: objectives.utility(tp=[1.0, 2.0, 3.0]), r"for 3 classes"),
    "custom not callable": (lambda: objectives.custom(3), r"needs a function"),
    "custom a scalar": (lambda: objectives.custom(lambda *counts: counts[0].sum()), "one real"),
    "custom raising": (
        lambda: objectives.custom(lambda *counts: counts[0] @ counts[1] @ 1),
        "fails",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_objectives_are_one_error_naming_objective(case):
    value, message = BAD[case]
    with pytest.raises(ValueError, match=rf"^objective: .*{message}"):
        objectives.get(value(), n_classes=5)
