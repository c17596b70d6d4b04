"""F-beta scores: exact ones on hard predictions, and differentiable surrogates for fitting.

Counts are integers (``int32`` per class, exact for up to 2**31 - 1 rows), never sums of
floats, which stop counting exactly at 2**24. Micro totals in :func:`f1_score` are summed in
``int64`` on the NumPy side.

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

from jaxthresh import _validation
from jaxthresh.surrogate import heaviside


class Counts(NamedTuple):
    """Per-class counts. Each field is ``int32[classes]`` (or ``[..., classes]`` under vmap)."""

    true_positives: jax.Array
    predicted_positives: jax.Array
    positives: jax.Array


def weighted_counts(
    predictions: jax.Array, positive_weights: jax.Array, weights: jax.Array
) -> Counts:
    """Per-class counts when each element (a row, or a bin of rows) carries weights.

    Args:
      predictions: ``[m, classes]``: bool for exact ``int32`` counts, or float 0/1 (e.g.
        from :func:`jaxthresh.heaviside`) for float sums that carry gradients.
      positive_weights: int ``[m, classes]``, the weight of each element's positive rows.
      weights: int ``[m, classes]`` or ``[m, 1]``, the weight of all of its rows.

    Returns:
      :class:`Counts` over the ``m`` axis.
    """
    if predictions.dtype == jnp.bool_:

        def count(values):
            return jnp.sum(jnp.where(predictions, values, 0), axis=0, dtype=jnp.int32)

        return Counts(
            count(positive_weights),
            count(weights),
            jnp.sum(positive_weights, axis=0, dtype=jnp.int32),
        )
    positive_weights = positive_weights.astype(predictions.dtype)
    return Counts(
        jnp.sum(predictions * positive_weights, axis=0),
        jnp.sum(predictions * weights.astype(predictions.dtype), axis=0),
        jnp.sum(positive_weights, axis=0),
    )


def _row_weights(labels, row_weights):
    """``(positive_weights [n, classes], weights [n, 1])``, int32, from optional row weights."""
    labels = jnp.asarray(labels).astype(bool)
    if row_weights is None:
        weights = jnp.ones(labels.shape[:1], jnp.int32)
    else:
        weights = jnp.asarray(row_weights).astype(jnp.int32)
    weights = weights[:, None]
    return jnp.where(labels, weights, 0), weights


def confusion_counts(
    labels: jax.Array, predictions: jax.Array, row_weights: jax.Array | None = None
) -> Counts:
    """Exact per-class counts of hard predictions; jit- and vmap-friendly.

    Args:
      labels: bool or 0/1 ``[n, classes]``.
      predictions: bool or 0/1 ``[n, classes]``.
      row_weights: optional non-negative ``int[n]`` multiplicity of each row (0 drops a row,
        which is how cross-validation folds are expressed).

    Returns:
      :class:`Counts` of ``int32[classes]``.
    """
    predictions = jnp.asarray(predictions).astype(bool)
    return weighted_counts(predictions, *_row_weights(labels, row_weights))


def _fbeta_ratio(true_positives, predicted_positives, positives, beta, zero_division, xp):
    """``(1+b^2) TP / (PP + b^2 P)`` elementwise, ``zero_division`` where PP = P = 0."""
    dtype = xp.float64 if xp is np else xp.float32  # NumPy: exact counts, float64 ratio
    beta2 = beta * beta
    numerator = (1.0 + beta2) * xp.asarray(true_positives, dtype=dtype)
    denominator = xp.asarray(predicted_positives, dtype=dtype) + beta2 * xp.asarray(
        positives, dtype=dtype
    )
    empty = denominator == 0
    return xp.where(empty, zero_division, numerator / xp.where(empty, 1.0, denominator))


def fbeta_from_counts(
    counts: Counts, *, average: str = "micro", beta: float = 1.0, zero_division: float = 1.0
) -> jax.Array:
    """F-beta from per-class counts (jit-friendly; ``average`` is static).

    Args:
      counts: :class:`Counts` with fields ``[..., classes]`` (integer or float).
      average: "micro" (pool the counts over classes) or "macro" (mean of per-class scores).
      beta: weight of recall relative to precision.
      zero_division: the score where there are no positives and no predictions.

    Returns:
      float32[...], the score in [0, 1].
    """
    if average == "micro":
        summed = [jnp.sum(c, axis=-1) for c in counts]
        return _fbeta_ratio(*summed, beta, zero_division, jnp)
    if average == "macro":
        return jnp.mean(_fbeta_ratio(*counts, beta, zero_division, jnp), axis=-1)
    raise ValueError(f"average: must be one of micro, macro; got {average!r}")


def thresholded_fbeta(
    scores: jax.Array,
    labels: jax.Array,
    thresholds: jax.Array,
    row_weights: jax.Array | None = None,
    *,
    average: str = "micro",
    beta: jax.Array | float = 1.0,
) -> jax.Array:
    """F-beta of ``scores > thresholds`` from exact counts; jit- and vmap-friendly.

    Args:
      scores: float32[n, classes].
      labels: bool[n, classes].
      thresholds: float32[classes].
      row_weights: optional int32[n] row multiplicities.
      average: "micro" or "macro" (static).
      beta: weight of recall.

    Returns:
      float32 scalar.
    """
    counts = confusion_counts(labels, scores > thresholds, row_weights)
    return fbeta_from_counts(counts, average=average, beta=beta)


_confusion_counts_jit = jax.jit(confusion_counts)


def f1_score(
    labels,
    predictions,
    *,
    average: str = "micro",
    beta: float = 1.0,
    zero_division: float = 1.0,
) -> float:
    """F-beta score of hard 0/1 predictions (F1 by default).

    Args:
      labels: 0/1 or bool ``[n, classes]``.
      predictions: 0/1 or bool ``[n, classes]``, the same shape.
      average: "micro" or "macro".
      beta: positive weight of recall relative to precision.
      zero_division: score of a class (macro) or set (micro) with no positives and no
        predictions.

    Returns:
      The score as a Python float in [0, 1].
    """
    predictions = _validation.as_labels(predictions, np.shape(predictions), name="predictions")
    labels = _validation.as_labels(labels, predictions.shape, name="labels", against="predictions")
    if labels.size == 0:
        raise ValueError(f"labels: is empty (shape {labels.shape})")
    _validation.average_name(average)
    beta = _validation.positive_float(beta, "beta")
    zero_division = _validation.unit_interval(zero_division, "zero_division")
    counts = [np.asarray(c, dtype=np.int64) for c in _confusion_counts_jit(labels, predictions)]
    if average == "micro":
        counts = [c.sum(keepdims=True) for c in counts]
    return float(np.mean(_fbeta_ratio(*counts, beta, zero_division, np)))


def surrogate_fbeta(
    scores: jax.Array,
    labels: jax.Array,
    thresholds: jax.Array,
    slopes: jax.Array,
    *,
    average: str = "micro",
    beta: float = 1.0,
    row_weights: jax.Array | None = None,
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
      row_weights: optional ``[n]`` row multiplicities (0 drops a row).
      zero_division: see the module docstring.

    Returns:
      float32 scalar.
    """
    predictions = heaviside(scores - thresholds, slopes)
    counts = weighted_counts(predictions, *_row_weights(labels, row_weights))
    return fbeta_from_counts(counts, average=average, beta=beta, zero_division=zero_division)
