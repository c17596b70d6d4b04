"""Per-class precision, recall and an objective at every threshold worth trying: the curves.

A threshold ``t`` predicts ``score > t``, so the predictions of a class change only where
``t`` crosses one of its scores. The exact curve of a class has a point at each of its
distinct scores (the point predicts the scores above it), and a first point just below its
lowest score (every row predicted); its last point, at the highest score, predicts nothing.
Counts come from the sorted order keys of :mod:`jaxthresh.core.cuts`, so they are exact
(weights, ties, subnormal scores) and equal the counts of ``scores > threshold``.

For large data (``bins=``, or a :class:`jaxthresh.Histogram`), the curve has one point per
non-empty histogram cell instead: the cut between that cell and the next non-empty one
below (exact on the rows too, see :mod:`jaxthresh.core.histogram`), and the point at the
highest score that predicts nothing; thresholds inside a cell are not on it.

Everything is one traceable function: it works inside ``jit`` and ``vmap``, so every
field has a static shape: ``[classes, points]``, with ``points`` ``n + 1`` (exact) or
``bins + 1`` (histogram). A class's points come first, in ascending order of threshold;
``count[c]`` says how many there are, and the slots after them are padding (threshold
``inf``, counts and ratios 0).

An empty ratio is 1: precision where nothing is predicted, recall of a class without
positives; the objective's score is that of :mod:`jaxthresh.objectives` (``zero_division``
1).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh import objectives
from jaxthresh.core import batching, cuts, validation
from jaxthresh.core.histogram import (
    Histogram,
    checked_histogram,
    histogram_candidates,
    score_histogram,
)
from jaxthresh.core.metrics import Counts
from jaxthresh.core.validation import Rows


class Curves(NamedTuple):
    """Every class's curve (see the module docstring): fields ``[classes, points]``, a
    class's ``count`` points first, thresholds ascending, then padding.

    Attributes:
      thresholds: float32, the point predicts ``scores > threshold`` (padding: ``inf``).
      true_positives: the weight of the positive rows above the threshold (int32 for bool
        or int weights, float32 sums for float weights).
      predicted: the weight of all rows above it.
      precision: float32, ``true_positives / predicted`` (1 where nothing is predicted).
      recall: float32, ``true_positives / positives`` (1 for a class without positives).
      score: float32, the objective's per-class score at the point (F1 by default).
      positives: ``[classes]``, each class's positive weight (its support).
      total: ``[classes]``, the weight of each class's rows (positive and negative).
      count: int32[classes], the number of points of each class.
    """

    thresholds: jax.Array
    true_positives: jax.Array
    predicted: jax.Array
    precision: jax.Array
    recall: jax.Array
    score: jax.Array
    positives: jax.Array
    total: jax.Array
    count: jax.Array

    @property
    def mask(self) -> jax.Array:
        """bool[classes, points]: the slots that are points (not padding)."""
        return jnp.arange(self.thresholds.shape[-1]) < self.count[..., None]


def threshold_curves(
    scores, labels=None, sample_weight=None, *, objective="f1", bins=None
) -> Curves:
    """Per class, precision, recall and an objective at every distinct threshold (see
    :mod:`jaxthresh.core.curves`); works inside ``jit`` and ``vmap``.

    Args:
      scores: real ``[n, classes]`` (NumPy or JAX), or a :class:`jaxthresh.Histogram`
        (alone: no labels, weights nor bins).
      labels: 0/1 or bool ``[n, classes]``.
      sample_weight: None, or non-negative weights of rows ``[n]`` or labels
        ``[n, classes]`` (rows or labels of weight 0 are left out, their scores too).
      objective: the per-class score of each point: a name or a
        :mod:`jaxthresh.objectives` value (default F1).
      bins: None for a point at every distinct score (``points = n + 1``); a number of equal
        cells per class for a point per non-empty cell (``points = bins + 1``; large data).

    Returns:
      :class:`Curves`, every field ``[classes, points]`` (``positives`` and ``count``
      ``[classes]``).
    """
    if isinstance(scores, Histogram):
        if labels is not None or sample_weight is not None or bins is not None:
            raise ValueError(
                "scores: a Histogram carries its labels, weights and cells; give it alone"
            )
        histogram = checked_histogram(scores, "scores")
        objective = objectives.get(objective, histogram.counts.shape[0])
        return _histogram_curves(histogram, objective)
    if labels is None:
        raise ValueError("labels: required with scores (only a Histogram comes alone)")
    rows = validation.as_rows(scores, labels, sample_weight, empty_ok=True)
    bins = validation.bins(bins, rows.scores.shape[1])
    objective = objectives.get(objective, rows.scores.shape[1])
    # Slots for every row (the points are [classes, n + 1] anyway): one compiled program
    # per shape, whatever the number of positives.
    return _row_curves(rows._replace(max_positives=None), objective, bins=bins)


@batching.jit(static_argnames=("bins",))
def _row_curves(rows: Rows, objective, *, bins: int | None) -> Curves:
    if bins is not None:
        return _histogram_curves(score_histogram(rows, bins=bins), objective)
    sorted = cuts.sorted_keys(rows.scores, rows.labels, rows.weights, slots=rows.positive_slots)
    keys = sorted.keys  # ascending keys: descending scores
    kept = keys != cuts.SENTINEL
    first = kept.at[:, 1:].set(kept[:, 1:] & (keys[:, 1:] != keys[:, :-1]))
    index = jnp.broadcast_to(jnp.arange(keys.shape[1], dtype=jnp.int32), keys.shape)
    # The point at a distinct score predicts the rows before its first slot.
    predicted = cuts.weight_before(index, sorted.cumulative)
    true_positives = cuts.weight_before(
        cuts.searchsorted_rows(sorted.positive_keys, keys, "left"), sorted.positive_cumulative
    )
    # The point below the lowest score predicts every row.
    n_kept = jnp.sum(kept, axis=1, dtype=jnp.int32)
    lowest = jnp.take_along_axis(keys, jnp.maximum(n_kept - 1, 0)[:, None], axis=1)
    below_lowest = cuts.from_order_keys(cuts.order_keys(cuts.score_of_keys(lowest)) - 1)
    positives = cuts.positive_weight(sorted)
    descending = (
        jnp.concatenate([cuts.score_of_keys(keys), below_lowest], axis=1),
        jnp.concatenate([true_positives, positives[:, None]], axis=1),
        jnp.concatenate(
            [predicted, cuts.weight_before(n_kept[:, None], sorted.cumulative)], axis=1
        ),
    )
    valid = jnp.concatenate([first, (n_kept > 0)[:, None]], axis=1)
    return _curves(valid, *descending, positives, cuts.total_weight(sorted), objective)


@batching.jit
def _histogram_curves(histogram: Histogram, objective) -> Curves:
    between = histogram_candidates(histogram)  # the top cell first: descending thresholds
    occupied = jnp.any(between.valid, axis=1, keepdims=True)
    none = jnp.zeros_like(between.predicted[:, :1])
    descending = (
        jnp.concatenate(
            [histogram.high[:, None], cuts.threshold_between(between.upper, between.lower)], axis=1
        ),
        jnp.concatenate([none, between.true_positives], axis=1),
        jnp.concatenate([none, between.predicted], axis=1),
    )
    valid = jnp.concatenate([occupied, between.valid], axis=1)
    return _curves(valid, *descending, between.positives, between.total, objective)


def _curves(valid, thresholds, true_positives, predicted, positives, total, objective) -> Curves:
    """:class:`Curves` from points in descending order of threshold, ``valid`` marking
    them among the slots: each class's points moved to the front, in ascending order."""
    width = valid.shape[1]
    count = jnp.sum(valid, axis=1, dtype=jnp.int32)
    # The first valid slot (the highest threshold) goes to position count - 1, and so on.
    position = jnp.where(valid, count[:, None] - jnp.cumsum(valid, axis=1), width)
    rows = jnp.arange(valid.shape[0])[:, None]

    def ascending(values, fill):
        return jnp.full_like(values, fill).at[rows, position].set(values, mode="drop")

    thresholds = ascending(thresholds, jnp.inf)
    true_positives = ascending(true_positives, 0)
    predicted = ascending(predicted, 0)
    mask = jnp.arange(width) < count[:, None]
    support = jnp.broadcast_to(positives[:, None], predicted.shape)
    everyone = jnp.broadcast_to(total[:, None], predicted.shape)
    counts = Counts.of(true_positives.T, predicted.T, support.T, everyone.T)
    per_class_score = objective.per_class(counts.confusion()).T

    def ratio(numerator, denominator):
        numerator = numerator.astype(jnp.float32)
        denominator = denominator.astype(jnp.float32)
        value = jnp.where(
            denominator > 0, numerator / jnp.where(denominator > 0, denominator, 1), 1
        )
        return jnp.where(mask, value, 0.0).astype(jnp.float32)

    return Curves(
        thresholds=thresholds,
        true_positives=true_positives,
        predicted=predicted,
        precision=ratio(true_positives, predicted),
        recall=ratio(true_positives, support),
        score=jnp.where(mask, per_class_score, 0.0),
        positives=positives,
        total=total,
        count=count,
    )
