"""F-beta scores: exact ones on hard predictions, and differentiable surrogates for fitting.

Counts of bool- or int-weighted rows are integers (``int32`` per class, exact for up to
2**31 - 1), never sums of floats, which stop counting exactly at 2**24; rows with float
weights are counted as float32 sums of their weights. :func:`f1_score` on concrete inputs
sums micro totals in ``int64`` and divides in float64.

Zero-division rule: the F-beta of a class (or, for micro, of the whole set) with no positive
labels and no positive predictions is ``zero_division`` (default 1.0: nothing to find and
nothing wrongly found is a perfect score). A class with positives but no true positives has
F-beta 0.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import objectives
from jaxthresh.core import batching, validation
from jaxthresh.core.surrogate import heaviside
from jaxthresh.core.validation import Rows


class Counts(NamedTuple):
    """Per-class counts, each field ``[..., classes]``: int32 (or float32 sums of float
    weights; float32 on the surrogate path).

    Attributes:
      true_positives: the weight of the positive labels predicted.
      predicted_positives: the weight of the labels predicted.
      positives: the weight of the positive labels.
      true_negatives: the weight of the negative labels not predicted.
    """

    true_positives: jax.Array
    predicted_positives: jax.Array
    positives: jax.Array
    true_negatives: jax.Array

    @classmethod
    def of(cls, true_positives, predicted_positives, positives, total) -> Counts:
        """The counts of a class whose labels weigh ``total`` in all (its true negatives
        are what is neither positive nor predicted)."""
        true_negatives = total - positives - predicted_positives + true_positives
        return cls(true_positives, predicted_positives, positives, true_negatives)

    def confusion(self) -> objectives.Confusion:
        """``(tp, fp, fn, tn)``, what an :class:`jaxthresh.objectives.Objective` scores."""
        tp, pp, p, tn = self
        return objectives.Confusion(tp, pp - tp, p - tp, tn)


def count_dtype(weights_dtype) -> jnp.dtype:
    """The dtype of counts of rows with weights of ``weights_dtype``: float32 for float
    weights, else int32."""
    return jnp.float32 if jnp.issubdtype(weights_dtype, jnp.floating) else jnp.int32


def weighted_counts(
    predictions: jax.Array, positive_weights: jax.Array, weights: jax.Array
) -> Counts:
    """Per-class counts when each element (a row, or a cell of rows) carries weights.

    Args:
      predictions: ``[m, classes]``: bool for exact counts, or float 0/1 (e.g. from
        :func:`jaxthresh.heaviside`) for float sums that carry gradients.
      positive_weights: ``[m, classes]``, the weight of each element's positive rows.
      weights: ``[m, classes]`` or ``[m, 1]``, the weight of all of its rows.

    Returns:
      :class:`Counts` over the ``m`` axis, in the weights' dtype (bool predictions) or the
      predictions' (float predictions).
    """
    if predictions.dtype == jnp.bool_:

        def count(values):
            return jnp.sum(jnp.where(predictions, values, 0), axis=0, dtype=values.dtype)

        def total(values):  # [classes], or [1] for row weights [m, 1]
            return jnp.sum(values, axis=0, dtype=values.dtype)

        return Counts.of(
            count(positive_weights), count(weights), total(positive_weights), total(weights)
        )
    positive_weights = positive_weights.astype(predictions.dtype)
    weights = weights.astype(predictions.dtype)
    return Counts.of(
        jnp.sum(predictions * positive_weights, axis=0),
        jnp.sum(predictions * weights, axis=0),
        jnp.sum(positive_weights, axis=0),
        jnp.sum(weights, axis=0),
    )


def element_weights(labels: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(positive_weights [n, classes], weights [n, 1] or [n, classes])`` in the count
    dtype, from bool labels and the weights of :class:`Rows` (of rows or of labels)."""
    weights = validation.element_shaped(weights.astype(count_dtype(weights.dtype)))
    return jnp.where(labels, weights, 0), weights


def row_counts(rows: Rows, predictions: jax.Array) -> Counts:
    """Exact counts of bool ``predictions [n, classes]`` over weighted :class:`Rows`."""
    return weighted_counts(predictions, *element_weights(rows.labels, rows.weights))


def confusion_counts(labels, predictions, sample_weight=None) -> Counts:
    """Exact per-class counts of hard predictions; works inside ``jit`` and ``vmap``.

    Args:
      labels: bool or 0/1 ``[n, classes]``.
      predictions: bool or 0/1 ``[n, classes]``.
      sample_weight: optional non-negative weights of rows ``[n]`` or of labels
        ``[n, classes]``: bool (in or out), integers (multiplicities; weight 0 drops a
        row or label) or floats.

    Returns:
      :class:`Counts` of int32[classes] (float32 with float weights).
    """
    labels, predictions = jnp.asarray(labels), jnp.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(
            f"labels: shape {labels.shape} does not match predictions shape {predictions.shape}"
        )
    weights = validation.as_weights(sample_weight, *labels.shape, pooled=False, empty_ok=True)
    return weighted_counts(predictions.astype(bool), *element_weights(labels.astype(bool), weights))


def fbeta_ratio(true_positives, predicted_positives, positives, beta, zero_division=1.0, xp=jnp):
    """``(1+b^2) TP / (PP + b^2 P)`` elementwise, ``zero_division`` where PP = P = 0:
    the one F-beta formula. ``xp=np`` computes it in float64 from exact NumPy counts,
    ``xp=jnp`` in float32 (traceable)."""
    dtype = xp.float64 if xp is np else xp.float32
    beta2 = beta * beta
    numerator = (1.0 + beta2) * xp.asarray(true_positives, dtype=dtype)
    denominator = xp.asarray(predicted_positives, dtype=dtype) + beta2 * xp.asarray(
        positives, dtype=dtype
    )
    empty = denominator == 0
    return xp.where(empty, zero_division, numerator / xp.where(empty, 1.0, denominator))


def objective_score(
    counts: Counts, objective: objectives.Objective, average: str, zero_division: float = 1.0
) -> jax.Array:
    """The score of ``objective`` averaged over classes (``average`` static) from per-class
    counts ``[..., classes]``: float32[...]. The one place counts become a score."""
    return objective.averaged(counts.confusion(), average, zero_division)


def fbeta_from_counts(
    counts: Counts, *, average: str = "micro", beta: float = 1.0, zero_division: float = 1.0
) -> jax.Array:
    """F-beta from per-class counts; works inside ``jit`` and ``vmap`` (``average`` static).

    Args:
      counts: :class:`Counts` with fields ``[..., classes]`` (integer or float).
      average: "micro" (pool the counts over classes), "macro" (mean of per-class scores)
        or "weighted" (per-class scores weighted by the classes' positives).
      beta: weight of recall relative to precision.
      zero_division: the score where there are no positives and no predictions.

    Returns:
      float32[...], the score in [0, 1].
    """
    validation.choice(average, objectives.AVERAGES, "average")
    return objective_score(counts, objectives.fbeta(beta), average, zero_division)


def score_above(
    rows: Rows, thresholds: jax.Array, objective: objectives.Objective, average: str
) -> jax.Array:
    """The objective of ``scores > thresholds`` on weighted :class:`Rows`, from exact
    counts."""
    return objective_score(row_counts(rows, rows.scores > thresholds), objective, average)


_confusion_counts_jit = batching.jit(confusion_counts)


def f1_score(
    labels,
    predictions,
    *,
    average: str = "micro",
    beta: float = 1.0,
    zero_division: float = 1.0,
    sample_weight=None,
):
    """F-beta score of hard 0/1 predictions (F1 by default).

    Args:
      labels: 0/1 or bool ``[n, classes]``.
      predictions: 0/1 or bool ``[n, classes]``, the same shape.
      average: "micro" or "macro".
      beta: positive weight of recall relative to precision.
      zero_division: score of a class (macro) or set (micro) with no positives and no
        predictions.
      sample_weight: optional non-negative weights of rows ``[n]`` or of labels
        ``[n, classes]``.

    Returns:
      On concrete inputs, a Python float in [0, 1] (micro totals summed in int64, the
      ratio in float64). Inside ``jit`` or ``vmap``, a float32 scalar.
    """
    predictions = validation.as_labels(predictions, name="predictions")
    labels = validation.as_labels(labels, shape=predictions.shape, against="predictions")
    if labels.size == 0:
        raise ValueError(f"labels: is empty (shape {labels.shape})")
    validation.choice(average, validation.AVERAGES, "average")
    validation.beta(beta)
    zero_division = validation.unit_interval(zero_division, "zero_division")
    weights = validation.as_weights(sample_weight, *labels.shape, pooled=False)
    if validation.is_traced(labels, predictions, weights, beta):
        counts = confusion_counts(labels, predictions, weights)
        return fbeta_from_counts(counts, average=average, beta=beta, zero_division=zero_division)
    counts = _confusion_counts_jit(labels, predictions, weights)
    totals = [
        np.asarray(c, dtype=np.float64 if c.dtype == np.float32 else np.int64) for c in counts
    ]
    return fbeta_of_totals(*totals[:3], average=average, beta=beta, zero_division=zero_division)


def fbeta_of_totals(
    true_positives, predicted, positives, *, average: str, beta, zero_division: float = 1.0
) -> float:
    """F-beta, micro, macro or weighted, of exact per-class NumPy counts (``[classes]``, int64 or
    float64 sums), in float64: what :func:`f1_score` returns on concrete inputs."""
    totals = [np.asarray(c) for c in (true_positives, predicted, positives)]
    if average == "micro":
        totals = [c.sum(keepdims=True) for c in totals]
    scores = fbeta_ratio(*totals, float(beta), zero_division, np)
    support = np.asarray(totals[2], np.float64)
    if average == "weighted" and support.sum() > 0:
        return float(np.sum(scores * support) / support.sum())
    return float(np.mean(scores))


def score_predictions(
    labels, predictions, *, objective="f1", average: str = "micro", sample_weight=None
):
    """The objective of hard 0/1 predictions: F1 by default, or any objective of the
    confusion counts (:mod:`jaxthresh.objectives`), averaged over classes.

    Args:
      labels: 0/1 or bool ``[n, classes]``.
      predictions: 0/1 or bool ``[n, classes]``, the same shape.
      objective: a name ("f1", "jaccard", "accuracy", "balanced_accuracy", "mcc",
        "precision", "recall") or a :mod:`jaxthresh.objectives` value.
      average: "micro", "macro" or "weighted".
      sample_weight: optional non-negative weights of rows ``[n]`` or labels
        ``[n, classes]``.

    Returns:
      On concrete inputs a Python float (from exact counts); inside ``jit`` or ``vmap`` a
      float32 scalar.
    """
    predictions = validation.as_labels(predictions, name="predictions")
    labels = validation.as_labels(labels, shape=predictions.shape, against="predictions")
    if labels.size == 0:
        raise ValueError(f"labels: is empty (shape {labels.shape})")
    validation.choice(average, objectives.AVERAGES, "average")
    objective = objectives.get(objective, labels.shape[1])
    weights = validation.as_weights(sample_weight, *labels.shape, pooled=False)
    if validation.is_traced(labels, predictions, weights, objective):
        return objective_score(confusion_counts(labels, predictions, weights), objective, average)
    return objective_of_totals(
        _confusion_counts_jit(labels, predictions, weights), objective, average
    )


def objective_of_totals(counts: Counts, objective, average: str) -> float:
    """The objective (a name or :mod:`jaxthresh.objectives` value) averaged as ``average``,
    of exact per-class counts (:class:`Counts` of ``[classes]`` NumPy or JAX arrays,
    integers or float sums), as a Python float: what the tool, the thresholds file and the
    estimators report. The counts are exact; the objective is computed in float32."""
    as_float = Counts(*(jnp.asarray(np.asarray(c, np.float64), jnp.float32) for c in counts))
    return float(objective_score(as_float, objectives.get(objective), average))


def surrogate_fbeta(
    scores: jax.Array,
    labels: jax.Array,
    thresholds: jax.Array,
    slopes: jax.Array,
    *,
    average: str = "micro",
    beta: float = 1.0,
    sample_weight: jax.Array | None = None,
    zero_division: float = 1.0,
) -> jax.Array:
    """Differentiable F-beta: exact value of ``scores > thresholds``, surrogate gradient.

    The forward value is the F-beta of the hard predictions; gradients with respect to
    ``thresholds`` and ``slopes`` flow through :func:`jaxthresh.heaviside`.

    Args:
      scores: float32[n, classes].
      labels: bool or 0/1 ``[n, classes]``.
      thresholds: float32[classes].
      slopes: float32[classes] or scalar, the surrogate's sigmoid slope.
      average: "micro" or "macro" (static).
      beta: weight of recall.
      sample_weight: optional weights of rows ``[n]`` or labels ``[n, classes]`` (0
        leaves one out).
      zero_division: see the module docstring.

    Returns:
      float32 scalar.
    """
    scores = jnp.asarray(scores, jnp.float32)
    labels = jnp.asarray(labels).astype(bool)
    weights = validation.as_weights(sample_weight, *scores.shape, pooled=False, empty_ok=True)
    predictions = heaviside(scores - thresholds, slopes)
    counts = weighted_counts(predictions, *element_weights(labels, weights))
    return fbeta_from_counts(counts, average=average, beta=beta, zero_division=zero_division)
