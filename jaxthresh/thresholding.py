"""Applying thresholds, and defThresh: one threshold shared by every class."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import _validation
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


def _segment_cumsum(values: jax.Array, segment_ids: jax.Array, n_segments: int) -> jax.Array:
    """Inclusive cumulative sum of ``values`` restarted at each segment; ids sorted ascending."""
    totals = jax.ops.segment_sum(values, segment_ids, num_segments=n_segments)
    starts = jnp.cumsum(totals) - totals
    return jnp.cumsum(values) - starts[segment_ids]


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
    once (descending) and the counts of each cut come from cumulative sums. For macro-F,
    each cut changes one class's score, so the macro sum is a cumulative sum of per-cut
    changes. Equal scores are never split, and the threshold is placed halfway between the
    two scores of rows with positive weight on either side of the cut.

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
    n, n_classes = scores.shape
    flat = scores.reshape(-1)
    weights = jnp.broadcast_to(row_weights.astype(jnp.int32)[:, None], scores.shape).reshape(-1)
    hits = jnp.where(labels.reshape(-1), weights, 0)
    # Rows of weight 0 sink below every cut, so they never place a threshold.
    flat = jnp.where(weights > 0, flat, -jnp.inf)
    order = jnp.argsort(-flat, stable=True)
    sorted_scores = flat[order]
    sorted_weights = weights[order]
    sorted_hits = hits[order]
    if average == "micro":
        positives = jnp.sum(hits)
        candidates = _fbeta_ratio(
            jnp.cumsum(sorted_hits),
            jnp.cumsum(sorted_weights),
            positives,
            beta,
            zero_division,
            jnp,
        )
        nothing = _fbeta_ratio(0, 0, positives, beta, zero_division, jnp)
    elif average == "macro":
        classes = jnp.tile(jnp.arange(n_classes), n)[order]
        by_class = jnp.argsort(classes, stable=True)
        grouped = classes[by_class]
        tp_after = (
            jnp.zeros_like(sorted_hits)
            .at[by_class]
            .set(_segment_cumsum(sorted_hits[by_class], grouped, n_classes))
        )
        pp_after = (
            jnp.zeros_like(sorted_weights)
            .at[by_class]
            .set(_segment_cumsum(sorted_weights[by_class], grouped, n_classes))
        )
        positives = jax.ops.segment_sum(hits, jnp.tile(jnp.arange(n_classes), n), n_classes)
        class_positives = positives[classes]
        change = _fbeta_ratio(
            tp_after, pp_after, class_positives, beta, zero_division, jnp
        ) - _fbeta_ratio(
            tp_after - sorted_hits,
            pp_after - sorted_weights,
            class_positives,
            beta,
            zero_division,
            jnp,
        )
        start = jnp.sum(_fbeta_ratio(0, 0, positives, beta, zero_division, jnp))
        candidates = (start + jnp.cumsum(change)) / n_classes
        nothing = start / n_classes
    else:
        raise ValueError(f"average: must be one of micro, macro; got {average!r}")
    # A cut after position k is valid only where the next score is strictly lower.
    next_scores = jnp.concatenate([sorted_scores[1:], jnp.full((1,), -jnp.inf, flat.dtype)])
    candidates = jnp.where(sorted_scores > next_scores, candidates, -jnp.inf)
    best = jnp.argmax(candidates)
    upper, lower = sorted_scores[best], next_scores[best]
    lowest = jnp.nextafter(upper, jnp.array(-jnp.inf, flat.dtype))
    middle = lower + (upper - lower) / 2
    threshold = jnp.where(jnp.isfinite(lower), jnp.where(middle < upper, middle, lower), lowest)
    take_nothing = nothing >= candidates[best]
    return (
        jnp.where(take_nothing, sorted_scores[0], threshold),
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
