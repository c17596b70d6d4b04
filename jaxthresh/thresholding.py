"""Applying thresholds, and defThresh: one threshold shared by every class."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import _validation
from jaxthresh._cuts import above_all, column_cuts, descending_keys, threshold_between
from jaxthresh._fitting import fit_all_rows
from jaxthresh.metrics import _fbeta_ratio


class DefaultResult(NamedTuple):
    """Result of :func:`fit_default`.

    Attributes:
      thresholds: float32[classes], the shared threshold repeated for every class.
      threshold: float32 scalar, the shared threshold.
    """

    thresholds: jax.Array
    threshold: jax.Array


def apply_thresholds(scores, thresholds) -> jax.Array:
    """Hard predictions ``scores > thresholds``.

    Args:
      scores: float[n, classes].
      thresholds: float scalar or float[classes].

    Returns:
      bool[n, classes]; a score equal to its threshold is predicted negative.
    """
    scores = _validation.as_scores(scores)
    thresholds = _validation.as_per_class(thresholds, scores.shape[1], "thresholds")
    return _apply(scores, thresholds)


@jax.jit
def _apply(scores: jax.Array, thresholds: jax.Array) -> jax.Array:
    return scores > thresholds


def best_global_threshold(
    scores: jax.Array,
    labels: jax.Array,
    row_weights: jax.Array,
    *,
    average: str,
    beta: float | jax.Array = 1.0,
    zero_division: float = 1.0,
) -> tuple[jax.Array, jax.Array]:
    """The single threshold maximizing F-beta over all classes, found exactly (jit-friendly).

    Every cut between two distinct scores is scored: all ``n * classes`` scores are sorted
    once (descending) and the counts of each cut come from cumulative sums (see
    :mod:`jaxthresh._cuts`). For macro-F, a class's score changes only at its own scores, so
    the macro sum at each cut is a running sum of those changes in the global order. Equal
    scores are never split, and the threshold is placed halfway between the two scores of
    rows with positive weight on either side of the cut.

    Args:
      scores: float32[n, classes].
      labels: bool[n, classes].
      row_weights: int32[n], row multiplicities (0 drops a row).
      average: "micro" or "macro" (static).
      beta: weight of recall.
      zero_division: score with no positives and no predictions.

    Returns:
      ``(threshold, score)``: float32 scalars; ``scores > threshold`` reaches ``score``.
    """
    n_classes = scores.shape[1]
    weights = jnp.broadcast_to(row_weights.astype(jnp.int32)[:, None], scores.shape)
    cuts = jax.tree.map(
        lambda field: field[0],
        column_cuts(scores.reshape(1, -1), labels.reshape(1, -1), weights.reshape(1, -1)),
    )
    if average == "micro":
        positives = cuts.true_positives[-1]
        candidates = _fbeta_ratio(
            cuts.true_positives, cuts.predicted, positives, beta, zero_division, jnp
        )
        nothing = _fbeta_ratio(0, 0, positives, beta, zero_division, jnp)
    elif average == "macro":
        # Each class's F-beta changes only at its own scores: sum those changes, placed at
        # each score's position in the global order, and the running sum is the macro sum.
        per_class = column_cuts(scores.T, labels.T, weights.T)
        positives = per_class.true_positives[:, -1:]
        after = _fbeta_ratio(
            per_class.true_positives, per_class.predicted, positives, beta, zero_division, jnp
        )
        before = _fbeta_ratio(
            per_class.true_positives - per_class.added_positives,
            per_class.predicted - per_class.added,
            positives,
            beta,
            zero_division,
            jnp,
        )
        change = jnp.where(per_class.valid, after - before, 0.0)
        positions = jnp.searchsorted(
            descending_keys(cuts.upper), descending_keys(per_class.upper), method="scan"
        )
        summed = (
            jnp.zeros(cuts.upper.shape, jnp.float32)
            .at[positions.reshape(-1)]
            .add(change.reshape(-1))
        )
        start = jnp.sum(_fbeta_ratio(0, 0, positives, beta, zero_division, jnp))
        candidates = (start + jnp.cumsum(summed)) / n_classes
        nothing = start / n_classes
    else:
        raise ValueError(f"average: must be one of micro, macro; got {average!r}")
    candidates = jnp.where(cuts.valid, candidates, -jnp.inf)
    best = jnp.argmax(candidates)
    take_nothing = nothing >= candidates[best]
    threshold = threshold_between(cuts.upper[best], cuts.lower[best])
    return (
        jnp.where(take_nothing, above_all(cuts.highest), threshold),
        jnp.where(take_nothing, nothing, candidates[best]),
    )


@functools.partial(jax.jit, static_argnames=("average",))
def default_fit_weighted(
    scores: jax.Array,
    labels: jax.Array,
    row_weights: jax.Array,
    threshold: jax.Array | None,
    beta: jax.Array | float = 1.0,
    *,
    average: str = "micro",
) -> DefaultResult:
    """defThresh on weighted rows; unchecked, vmap-friendly (see :func:`fit_default`)."""
    if threshold is None:
        threshold, _ = best_global_threshold(
            scores, labels, row_weights, average=average, beta=beta
        )
    threshold = jnp.asarray(threshold, jnp.float32)
    return DefaultResult(jnp.full(scores.shape[1:], threshold), threshold)


def default_hyperparameters(
    n_classes: int, *, threshold: float | None = None, average: str = "micro", beta: float = 1.0
) -> tuple[dict, dict]:
    """Validates defThresh's hyperparameters; returns ``(arrays, static)`` keyword arguments
    of :func:`default_fit_weighted`."""
    del n_classes  # One threshold whatever the number of classes.
    if threshold is not None:
        threshold = np.float32(_validation.as_per_class(threshold, 1, "threshold")[0])
    arrays = {"threshold": threshold, "beta": np.float32(_validation.positive_float(beta, "beta"))}
    return arrays, {"average": _validation.average_name(average)}


def fit_default(
    scores, labels, threshold: float | None = None, *, average: str = "micro", beta: float = 1.0
) -> DefaultResult:
    """defThresh: one threshold for every class.

    Args:
      scores: float[n, classes], classifier scores.
      labels: 0/1 ``[n, classes]``.
      threshold: the shared threshold; if None, the single value that maximizes the F-beta
        of ``scores > threshold`` on this data, found exactly (see
        :func:`best_global_threshold`).
      average: "micro" or "macro", used when ``threshold`` is None.
      beta: weight of recall, used when ``threshold`` is None.

    Returns:
      :class:`DefaultResult`.
    """
    return fit_all_rows(
        default_hyperparameters,
        default_fit_weighted,
        scores,
        labels,
        threshold=threshold,
        average=average,
        beta=beta,
    )
