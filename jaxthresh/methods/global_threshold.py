"""defThresh: one threshold shared by every class, given or the best one found exactly.

The best single threshold is an exhaustive search, exact for every objective and average:
all ``n * classes`` scores are sorted once (descending) and the counts of every cut
between two distinct scores come from cumulative sums (:mod:`jaxthresh.core.cuts`). For a
separable average (macro, weighted, a utility's micro sum), a class's score changes only
at its own scores, so the average at each cut is a running sum of those weighted changes
placed in the global order. Equal scores are never split.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec

from jaxthresh import objectives
from jaxthresh.core import batching
from jaxthresh.core.cuts import (
    SENTINEL,
    Candidates,
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
    total_weight,
    weight_before,
)
from jaxthresh.core.histogram import Histogram, cell_centres
from jaxthresh.core.metrics import Counts, count_dtype
from jaxthresh.core.reductions import argmax_first
from jaxthresh.core.validation import Rows
from jaxthresh.methods.base import (
    Method,
    average_field,
    hyperparameter,
    objective_field,
    register,
)


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
    objective: objectives.Objective,
    average: str,
    slots: int | None = None,
    pooled_slots: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """The single threshold maximizing the objective over all classes, found exactly (for
    every objective and average: a scan over one threshold); traceable.

    Args:
      scores: float32[n, classes].
      labels: bool[n, classes].
      weights: the weight of each score, broadcastable to ``[n, classes]`` (row weights
        as ``[n, 1]``); weight 0 drops a score.
      objective: a :class:`jaxthresh.objectives.Objective`.
      average: "micro", "macro" or "weighted" (static).
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
    if objective.separable(average):
        return _best_separable_threshold(scores, labels, weights, objective, average, slots)
    # Every score pooled into one column: its candidate cuts are the global ones.
    pooled_slots = min(n * n_classes, slots * n_classes, pooled_slots or n * n_classes)
    if objective.monotone and batching.sharded_rows() is not None:
        cuts = _sharded_pooled_candidates(scores, labels, weights, pooled_slots)
    else:
        flat = (scores.reshape(-1, 1), labels.reshape(-1, 1), weights.reshape(-1, 1))
        cuts = candidates_of(*flat, slots=pooled_slots, every=not objective.monotone)
    values = objective.per_class(cuts.counts().confusion())[:, 0]
    nothing = objective.per_class(cuts.nothing().confusion())[0]
    values = jnp.where(cuts.valid[0] & ~jnp.isnan(values), values, -jnp.inf)
    best = argmax_first(values, axis=0)
    upper, lower = cuts.upper[0, best], cuts.lower[0, best]
    return _or_nothing(upper, lower, values[best], cuts.highest[0], nothing)


def _sharded_pooled_candidates(scores, labels, weights, slots: int) -> Candidates:
    """The pooled column's :class:`Candidates` (``[1, slots]``) of rows split over devices,
    without moving a row: the candidate cuts are the distinct positive keys of every
    device (each device's lowest ``slots``, gathered, sorted, deduplicated; ``slots``
    bounds the positive scores of all classes); each device adds the weight of each of
    its scores into the slot of the first candidate at or after its key (a scatter into
    ``[slots + 1]``), and the devices' slots are summed: running totals are then the
    counts of every cut. The score just below a cut is the lowest key in the next slot
    (a scatter of minima). Columns are taken a block at a time (two passes: the
    candidates, then the counts)."""
    dtype = count_dtype(weights.dtype)

    def blocks_of(scores, labels, weights, function, initial):
        n, columns = scores.shape
        count, per_block = class_blocks(columns, n)

        def step(carry, index):
            start = jnp.minimum(index * per_block, columns - per_block)
            piece = [
                jax.lax.dynamic_slice_in_dim(a, start, per_block, 1)
                for a in (scores, labels, weights)
            ]
            # The last block may overlap the one before: its repeated columns drop out.
            fresh = start + jnp.arange(per_block) >= index * per_block
            kept = (piece[2] > 0) & fresh
            keys = kept_keys(piece[0], kept)
            return function(
                carry,
                keys.ravel(),
                (piece[1] & kept).ravel(),
                jnp.where(kept, piece[2], 0).astype(dtype).ravel(),
            ), None

        return jax.lax.scan(step, initial, jnp.arange(count))[0]

    def local(scores, labels, weights):
        weights = jnp.broadcast_to(weights, scores.shape)

        # Each block's positive keys, packed (a nonzero: one pass, no sort), are written
        # after those found so far (the block's unused slots after them, overwritten by the
        # next block's), then sorted once: this device's at most `slots` positive keys.
        block_keys = scores.shape[0] * class_blocks(scores.shape[1], scores.shape[0])[1]

        def add_positives(found, keys, positive, _):
            buffer, count = found
            (index,) = jnp.nonzero(positive, size=block_keys, fill_value=block_keys)
            packed = keys.at[index].get(mode="fill", fill_value=SENTINEL)
            buffer = jax.lax.dynamic_update_slice(buffer, packed, (count,))
            return buffer, count + jnp.sum(positive, dtype=jnp.int32)

        empty = (jnp.full((slots + block_keys,), SENTINEL, jnp.int32), jnp.int32(0))
        buffer, _ = blocks_of(scores, labels, weights, add_positives, empty)
        own = jnp.sort(buffer)[:slots]
        everyone = jax.lax.all_gather(own, batching.ROWS, tiled=True)
        cut_keys = jnp.unique(everyone, size=slots, fill_value=SENTINEL)

        def add(totals, keys, positive, weight):
            predicted, true_positives, lowest = totals
            slot = jnp.searchsorted(cut_keys, keys, side="left", method="scan")
            return (
                predicted.at[slot].add(weight),
                true_positives.at[slot].add(jnp.where(positive, weight, 0)),
                lowest.at[slot].min(keys),
            ), None

        zeros = jnp.zeros(slots + 1, dtype)
        totals = (zeros, zeros, jnp.full(slots + 1, SENTINEL, jnp.int32))
        predicted, true_positives, lowest = blocks_of(
            scores, labels, weights, lambda t, *a: add(t, *a)[0], totals
        )
        predicted = jax.lax.psum(predicted, batching.ROWS)
        true_positives = jax.lax.psum(true_positives, batching.ROWS)
        lowest = jax.lax.pmin(lowest, batching.ROWS)
        return cut_keys, predicted, true_positives, lowest

    cut_keys, predicted, true_positives, lowest = jax.shard_map(
        local,
        in_specs=(PartitionSpec(batching.ROWS, None),) * 3,
        out_specs=PartitionSpec(),
        check_vma=False,
    )(scores, labels, weights)
    valid = cut_keys != SENTINEL
    return Candidates(
        upper=score_of_keys(cut_keys)[None],
        lower=score_of_keys(lowest[1:])[None],
        true_positives=jnp.cumsum(true_positives)[None, :slots],
        predicted=jnp.cumsum(predicted)[None, :slots],
        valid=valid[None],
        highest=score_of_keys(jnp.min(lowest))[None],
        positives=jnp.sum(true_positives)[None],
        total=jnp.sum(predicted)[None],
    )


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


def best_threshold_of(rows: Rows, objective, average: str) -> tuple[jax.Array, jax.Array]:
    """:func:`best_global_threshold` of weighted :class:`Rows`."""
    return best_global_threshold(
        rows.scores,
        rows.labels,
        rows.element_weights,
        objective=objective,
        average=average,
        slots=rows.positive_slots,
        pooled_slots=rows.pooled_positive_slots,
    )


def _best_separable_threshold(scores, labels, weights, objective, average, slots):
    """A separable average (``sum_c w_c score_c``) at every distinct score of all classes
    pooled: each class's score changes only at its own scores, so the weighted changes,
    placed at their scores' positions in the pooled order and summed, give the average at
    every pooled cut. Classes are taken a block at a time, adding into one pooled array."""
    n, n_classes = scores.shape
    flat = (a.reshape(-1, 1) for a in (scores, labels, weights))
    pooled = sorted_keys(*flat, slots=0).keys[0]
    per_class = sorted_keys(scores, labels, weights, slots=slots)
    positives = positive_weight(per_class)
    totals = total_weight(per_class)
    class_weights = objective.class_weights(positives, average)
    nothing_counts = Counts.of(
        jnp.zeros_like(positives), jnp.zeros_like(positives), positives, totals
    )
    nothing = objective.per_class(nothing_counts.confusion()) * class_weights

    def add_changes(summed, block):
        sorted, positives, totals, weights, nothing, index = block
        keys = sorted.keys
        ends = last_of_runs(keys)  # the last row of each score
        slot = jnp.broadcast_to(jnp.arange(keys.shape[1], dtype=jnp.int32), keys.shape)
        predicted = weight_before(slot + 1, sorted.cumulative)
        true_positives = weight_before(
            searchsorted_rows(sorted.positive_keys, keys, "right"), sorted.positive_cumulative
        )
        # The score with the cut just below a score: at its last row; just above it: at
        # the last row of the previous score (or predicting nothing).
        counts = Counts.of(true_positives.T, predicted.T, positives, totals)
        after = objective.take_classes(index).per_class(counts.confusion()).T * weights[:, None]
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
    index = grouped(jnp.arange(n_classes, dtype=jnp.int32), 0)
    grouped = (
        grouped_sorted,
        grouped(positives, 0),
        grouped(totals, 0),
        grouped(class_weights, 0),
        grouped(nothing, 0),
        index,
    )
    summed, _ = jax.lax.scan(add_changes, jnp.zeros(pooled.shape, jnp.float32), grouped)
    start = jnp.sum(nothing)
    return _best_of_pooled(pooled, start + jnp.cumsum(summed), start)


def best_histogram_threshold(
    histogram: Histogram, objective: objectives.Objective, average: str
) -> tuple[jax.Array, jax.Array]:
    """The single threshold maximizing the objective over a histogram's cells, each cell's
    rows at its centre (as ``fit_histogram`` sees them), found exactly; traceable.

    The same answer as :func:`best_global_threshold` of those rows, from one sort of the
    non-empty cells of all classes by centre: for a pooled (micro) average, running totals
    of the cells' counts; for a separable one, of the weighted change each cell makes to
    its own class's score (a class's cells are already in order, so these come from
    suffix sums).

    Args:
      histogram: :class:`jaxthresh.Histogram`, ``[classes, cells]`` tables.
      objective: a :class:`jaxthresh.objectives.Objective`.
      average: "micro", "macro" or "weighted" (static).

    Returns:
      ``(threshold, score)``: float32 scalars.
    """
    counts, positives = histogram.counts, histogram.positives
    keys = kept_keys(cell_centres(histogram), counts > 0)
    class_positives = jnp.sum(positives, axis=1)
    class_totals = jnp.sum(counts, axis=1)
    zero = jnp.zeros_like(class_positives)
    nothing_counts = Counts.of(zero, zero, class_positives, class_totals)
    separable = objective.separable(average)
    if separable:
        # A class's score predicting its cells from the top down to each cell; the cell
        # above's value (or predicting nothing) is the score before this cell is added.
        def from_top(table):
            above = jnp.cumsum(table[:, ::-1], axis=1)[:, ::-1]
            return jnp.concatenate([above, jnp.zeros_like(above[:, :1])], axis=1)

        weights = objective.class_weights(class_positives, average)
        top = Counts.of(from_top(positives).T, from_top(counts).T, class_positives, class_totals)
        after = objective.per_class(top.confusion()).T * weights[:, None]
        payloads = (after[:, :-1] - after[:, 1:],)
    else:
        payloads = (counts, positives)
    keys, *payloads = sort_with(keys.reshape(1, -1), tuple(p.reshape(1, -1) for p in payloads))
    keys, payloads = keys[0], [p[0] for p in payloads]
    if separable:
        nothing = jnp.sum(objective.per_class(nothing_counts.confusion()) * weights)
        values = nothing + jnp.cumsum(payloads[0])
    else:
        pooled = Counts(*(jnp.sum(c, keepdims=True) for c in nothing_counts))
        nothing = objective.per_class(pooled.confusion())[0]
        running = Counts.of(
            jnp.cumsum(payloads[1])[:, None],
            jnp.cumsum(payloads[0])[:, None],
            pooled.positives,
            jnp.sum(class_totals, keepdims=True),
        )
        values = objective.per_class(running.confusion())[:, 0]
    return _best_of_pooled(keys, jnp.where(jnp.isnan(values), -jnp.inf, values), nothing)


class StartsAtGlobalThreshold:
    """For methods with ``init``, ``objective`` and ``average`` hyperparameters: ``init=None``
    starts every class at the best single threshold of the data (or of a histogram's
    cells)."""

    def _starting_at(self, threshold: jax.Array, n_classes: int):
        return dataclasses.replace(self, init=jnp.full((n_classes,), threshold))

    def resolved(self, rows: Rows):
        if self.init is not None:
            return self
        threshold, _ = best_threshold_of(rows, self.objective, self.average)
        return self._starting_at(threshold, rows.scores.shape[1])

    def resolved_on_histogram(self, histogram: Histogram):
        if self.init is not None:
            return self
        threshold, _ = best_histogram_threshold(histogram, self.objective, self.average)
        return self._starting_at(threshold, histogram.low.shape[0])


@register
@dataclasses.dataclass(frozen=True, eq=False)
class Default(Method):
    """defThresh: one threshold for every class: the one given, or the single value that
    maximizes the objective on the data, found exactly (any objective, any average)."""

    name = "default"
    result_type = DefaultResult

    threshold: jax.Array | None = hyperparameter(
        "real", None, help="The shared threshold; None for the best single one, found exactly."
    )
    objective: objectives.Objective = objective_field()
    average: str = average_field()

    def fit_rows(self, rows: Rows) -> DefaultResult:
        threshold = self.threshold
        if threshold is None:
            threshold, _ = best_threshold_of(rows, self.objective, self.average)
        threshold = jnp.asarray(threshold, jnp.float32)
        return DefaultResult(jnp.full(rows.scores.shape[1:], threshold), threshold)
