"""defThresh: one threshold shared by every class, given or the best one found exactly.

The best single threshold is an exhaustive search: all ``n * classes`` scores are sorted
once (descending) and the counts of every cut between two distinct scores come from
cumulative sums (:mod:`jaxthresh.core.cuts`). For macro-F, a class's score changes only at
its own scores, so the macro sum at each cut is a running sum of those changes placed in
the global order. Equal scores are never split.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh.core.cuts import (
    SENTINEL,
    SortedKeys,
    above_all,
    candidates_of,
    class_blocks,
    kept_keys,
    last_of_runs,
    positive_weight,
    score_of_keys,
    searchsorted_rows,
    sort_with,
    sorted_keys,
    threshold_between,
    weight_before,
)
from jaxthresh.core.histogram import Histogram, cell_centres
from jaxthresh.core.metrics import fbeta_ratio
from jaxthresh.core.reductions import argmax_first
from jaxthresh.core.validation import Rows
from jaxthresh.methods.base import Method, average_field, beta_field, hyperparameter, register


class DefaultResult(NamedTuple):
    """Result of :func:`jaxthresh.fit_default`.

    Attributes:
      thresholds: float32[classes], the shared threshold repeated for every class.
      threshold: float32 scalar, the shared threshold.
    """

    thresholds: jax.Array
    threshold: jax.Array


def best_global_threshold(
    scores: jax.Array,
    labels: jax.Array,
    weights: jax.Array,
    *,
    average: str,
    beta=1.0,
    zero_division: float = 1.0,
    slots: int | None = None,
    pooled_slots: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """The single threshold maximizing F-beta over all classes, found exactly; traceable.

    Args:
      scores: float32[n, classes].
      labels: bool[n, classes].
      weights: the weight of each score, broadcastable to ``[n, classes]`` (row weights
        as ``[n, 1]``); weight 0 drops a score.
      average: "micro" or "macro" (static).
      beta: weight of recall.
      zero_division: score with no positives and no predictions.
      slots: at least the number of positive scores of weight > 0 of any class (static;
        None: n).
      pooled_slots: at least the number of positive scores of weight > 0 of all classes
        together (static; None: ``slots * classes``): the micro search's candidate cuts.

    Returns:
      ``(threshold, score)``: float32 scalars; ``scores > threshold`` reaches ``score``.
    """
    n, n_classes = scores.shape
    slots = n if slots is None else min(slots, n)
    weights = jnp.broadcast_to(jnp.asarray(weights), scores.shape)
    if average == "micro":
        # Every score pooled into one column: its candidate cuts are the global ones.
        flat = (scores.reshape(-1, 1), labels.reshape(-1, 1), weights.reshape(-1, 1))
        pooled_slots = min(n * n_classes, slots * n_classes, pooled_slots or n * n_classes)
        cuts = jax.tree.map(lambda field: field[0], candidates_of(*flat, slots=pooled_slots))
        values = fbeta_ratio(
            cuts.true_positives, cuts.predicted, cuts.positives, beta, zero_division
        )
        nothing = fbeta_ratio(0, 0, cuts.positives, beta, zero_division)
        values = jnp.where(cuts.valid, values, -jnp.inf)
        best = argmax_first(values, axis=0)
        return _or_nothing(cuts.upper[best], cuts.lower[best], values[best], cuts.highest, nothing)
    if average == "macro":
        return _best_macro_threshold(scores, labels, weights, beta, zero_division, slots)
    raise ValueError(f"average: must be one of micro, macro; got {average!r}")


def _or_nothing(upper, lower, score, highest, nothing) -> tuple[jax.Array, jax.Array]:
    """``(threshold, score)``: the best cut, between the scores ``upper`` and ``lower``,
    where it scores more than predicting nothing (``nothing``), else a threshold above the
    ``highest`` score."""
    take_nothing = nothing >= score
    return (
        jnp.where(take_nothing, above_all(highest), threshold_between(upper, lower)),
        jnp.where(take_nothing, nothing, score),
    )


def _best_of_pooled(keys, values, nothing) -> tuple[jax.Array, jax.Array]:
    """``(threshold, score)`` from pooled keys ``[m]`` sorted ascending (descending
    scores, :data:`SENTINEL` last) and ``values [m]``, the F-beta of predicting everything
    up to each key: the best cut after the last of a run of equal keys, or nothing."""
    values = jnp.where(last_of_runs(keys[None])[0], values, -jnp.inf)
    best = argmax_first(values, axis=0)
    following = jnp.concatenate([keys[1:], jnp.full((1,), SENTINEL, keys.dtype)])
    return _or_nothing(
        score_of_keys(keys[best]),
        score_of_keys(following[best]),
        values[best],
        score_of_keys(keys[0]),
        nothing,
    )


def best_threshold_of(rows: Rows, *, average: str, beta) -> tuple[jax.Array, jax.Array]:
    """:func:`best_global_threshold` of weighted :class:`Rows`."""
    return best_global_threshold(
        rows.scores,
        rows.labels,
        rows.element_weights,
        average=average,
        beta=beta,
        slots=rows.positive_slots,
        pooled_slots=rows.pooled_positive_slots,
    )


def _best_macro_threshold(scores, labels, weights, beta, zero_division, slots):
    """Macro F-beta at every distinct score of all classes pooled: each class's F-beta
    changes only at its own scores, so the changes, placed at their scores' positions in
    the pooled order and summed, give the macro sum at every pooled cut. Classes are taken
    a block at a time, adding into one pooled array."""
    n, n_classes = scores.shape
    flat = (a.reshape(-1, 1) for a in (scores, labels, weights))
    pooled = sorted_keys(*flat, slots=0).keys[0]
    per_class = sorted_keys(scores, labels, weights, slots=slots)
    positives = positive_weight(per_class)
    nothing = fbeta_ratio(0, 0, positives, beta, zero_division)

    def add_changes(summed, block):
        sorted, positives, nothing = block
        keys = sorted.keys
        ends = last_of_runs(keys)  # the last row of each score
        slot = jnp.broadcast_to(jnp.arange(keys.shape[1], dtype=jnp.int32), keys.shape)
        predicted = weight_before(slot + 1, sorted.cumulative)
        true_positives = weight_before(
            searchsorted_rows(sorted.positive_keys, keys, "right"), sorted.positive_cumulative
        )
        # F-beta with the cut just below a score: at its last row; just above it: at the
        # last row of the previous score (or predicting nothing).
        after = fbeta_ratio(true_positives, predicted, positives[:, None], beta, zero_division)
        last_end = jax.lax.cummax(jnp.where(ends, slot, -1), axis=1)
        previous = jnp.concatenate([jnp.full_like(last_end[:, :1], -1), last_end[:, :-1]], 1)
        before = jnp.where(
            previous >= 0,
            jnp.take_along_axis(after, jnp.maximum(previous, 0), axis=1),
            nothing[:, None],
        )
        change = jnp.where(ends, after - before, 0.0)
        position = jnp.searchsorted(pooled, keys.reshape(-1), side="right", method="scan") - 1
        return summed.at[position].add(change.reshape(-1), mode="drop"), None

    blocks, per_block = class_blocks(n_classes, n)
    padding = blocks * per_block - n_classes

    def grouped(array, fill):
        if array is None:
            return None
        padded = jnp.pad(array, [(0, padding)] + [(0, 0)] * (array.ndim - 1), constant_values=fill)
        return padded.reshape(blocks, per_block, *array.shape[1:])

    grouped_sorted = SortedKeys(
        grouped(per_class.keys, SENTINEL),
        grouped(per_class.positive_keys, SENTINEL),
        grouped(per_class.cumulative, 0),
        grouped(per_class.positive_cumulative, 0),
    )
    grouped = (grouped_sorted, grouped(positives, 0), grouped(nothing, 0))
    summed, _ = jax.lax.scan(add_changes, jnp.zeros(pooled.shape, jnp.float32), grouped)
    start = jnp.sum(nothing)
    return _best_of_pooled(pooled, (start + jnp.cumsum(summed)) / n_classes, start / n_classes)


def best_histogram_threshold(
    histogram: Histogram, *, average: str, beta=1.0, zero_division: float = 1.0
) -> tuple[jax.Array, jax.Array]:
    """The single threshold maximizing F-beta over a histogram's cells, each cell's rows
    at its centre (as ``fit_histogram`` sees them), found exactly; traceable.

    The same answer as :func:`best_global_threshold` of those rows, from one sort of the
    non-empty cells of all classes by centre: for micro-F, running totals of the cells'
    counts; for macro-F, of the change each cell makes to its own class's F-beta (a
    class's cells are already in order, so these come from suffix sums).

    Args:
      histogram: :class:`jaxthresh.Histogram`, ``[classes, cells]`` tables.
      average: "micro" or "macro" (static).
      beta: weight of recall.
      zero_division: score with no positives and no predictions.

    Returns:
      ``(threshold, score)``: float32 scalars.
    """
    counts, positives = histogram.counts, histogram.positives
    n_classes = counts.shape[0]
    keys = kept_keys(cell_centres(histogram), counts > 0)
    class_positives = jnp.sum(positives, axis=1)
    if average == "micro":
        payloads = (counts, positives)
    elif average == "macro":
        # A class's F-beta predicting its cells from the top down to each cell; the cell
        # above's value (or predicting nothing) is the F-beta before this cell is added.
        def from_top(table):
            above = jnp.cumsum(table[:, ::-1], axis=1)[:, ::-1]
            return jnp.concatenate([above, jnp.zeros_like(above[:, :1])], axis=1)

        after = fbeta_ratio(
            from_top(positives), from_top(counts), class_positives[:, None], beta, zero_division
        )
        payloads = (after[:, :-1] - after[:, 1:],)
    else:
        raise ValueError(f"average: must be one of micro, macro; got {average!r}")
    keys, *payloads = sort_with(keys.reshape(1, -1), tuple(p.reshape(1, -1) for p in payloads))
    keys, payloads = keys[0], [p[0] for p in payloads]
    if average == "micro":
        total_positives = jnp.sum(class_positives)
        values = fbeta_ratio(
            jnp.cumsum(payloads[1]), jnp.cumsum(payloads[0]), total_positives, beta, zero_division
        )
        nothing = fbeta_ratio(0, 0, total_positives, beta, zero_division)
    else:
        nothing = jnp.mean(fbeta_ratio(0, 0, class_positives, beta, zero_division))
        values = nothing + jnp.cumsum(payloads[0]) / n_classes
    return _best_of_pooled(keys, values, nothing)


class StartsAtGlobalThreshold:
    """For methods with ``init``, ``average`` and ``beta`` hyperparameters: ``init=None``
    starts every class at the best single threshold of the data (or of a histogram's
    cells)."""

    def _starting_at(self, threshold: jax.Array, n_classes: int):
        return dataclasses.replace(self, init=jnp.full((n_classes,), threshold))

    def resolved(self, rows: Rows):
        if self.init is not None:
            return self
        threshold, _ = best_threshold_of(rows, average=self.average, beta=self.beta)
        return self._starting_at(threshold, rows.scores.shape[1])

    def resolved_on_histogram(self, histogram: Histogram):
        if self.init is not None:
            return self
        threshold, _ = best_histogram_threshold(histogram, average=self.average, beta=self.beta)
        return self._starting_at(threshold, histogram.low.shape[0])


@register
@dataclasses.dataclass(frozen=True, eq=False)
class Default(Method):
    """defThresh: one threshold for every class: the one given, or the single value that
    maximizes F-beta on the data, found exactly."""

    name = "default"
    result_type = DefaultResult

    threshold: jax.Array | None = hyperparameter(
        "real", None, help="The shared threshold; None for the best single one, found exactly."
    )
    average: str = average_field()
    beta: jax.Array = beta_field()

    def fit_rows(self, rows: Rows) -> DefaultResult:
        threshold = self.threshold
        if threshold is None:
            threshold, _ = best_threshold_of(rows, average=self.average, beta=self.beta)
        threshold = jnp.asarray(threshold, jnp.float32)
        return DefaultResult(jnp.full(rows.scores.shape[1:], threshold), threshold)
