"""Exact counts of ``scores > thresholds`` over weighted rows: one kernel per backend.

``generic``: counts of a comparison, weighted (any row weights); what XLA batches and fuses
well on accelerators.

``cpu``: for rows that are in or out (bool weights: folds, padding, no weights). XLA on
CPU compiles a reduction whose input is an elementwise expression of the scores and of
per-class vectors into one vectorized, multi-threaded kernel; a comparison or ``select``,
a per-row vector broadcast along the reduced axis, or an intermediate that two reductions
share is written to memory first, three to ten times slower
(``experiments/cpu_kernel_tricks.py`` measures each). So:

* rows left out carry a score of ``-inf`` (:class:`MaskedScores`) instead of a weight;
* true positives are counted over the kept positive entries alone: where a bound on their
  number is known and is at most an eighth of the scores (concrete inputs carry one,
  :attr:`Rows.pooled_positive_slots`), they are gathered once into a list, whose sums by
  class are one scatter-add (a fraction of a pass); else on a copy of the scores with
  ``-inf`` at negative labels;
* the step is written with maxima only (:func:`step`);
* each sum is computed in its own branch of a ``lax.switch`` (:func:`separately`), where it
  shares nothing with the others.

Counts are float32 sums of exact 0.0/1.0 steps, exact below 2**24 rows; longer inputs are
summed in blocks of 2**23 rows whose totals are added as int32
(:func:`jaxthresh.core.reductions.column_sum`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import objectives
from jaxthresh.core import batching
from jaxthresh.core.cuts import BLOCK_KEYS
from jaxthresh.core.metrics import (
    Counts,
    element_weights,
    objective_score,
    score_above,
    weighted_counts,
)
from jaxthresh.core.reductions import column_sum, count_true
from jaxthresh.core.validation import Rows

#: The score a row left out of a fit carries: never above a threshold, no gradient.
LEFT_OUT = -jnp.inf

# x * 2**126 is >= 1 for every normal float32 x > 0 (and overflows to inf beyond), so
# -max(-max(x * 2**126, 0), -1) is 1.0 exactly where x > 0 and 0.0 elsewhere. A subnormal
# x (|x| < 1.2e-38) gives a fraction where the device keeps subnormals; XLA on CPU flushes
# them to zero. x is a difference score - threshold, subnormal only where both lie within
# about 2**-103 of zero: the counts are exact outside that band (SGLThresh warns when its
# thresholds end inside it, jaxthresh.core.diagnostics.near_zero_warnings).
_STEP_SCALE = 2.0**126


def step(x: jax.Array) -> jax.Array:
    """float32 ``1.0 * (x > 0)`` written with maxima only (a comparison, ``min`` or
    ``clip`` leaves XLA CPU's vectorized reduction)."""
    return -jnp.maximum(-jnp.maximum(x * _STEP_SCALE, 0.0), -1.0)


def separately(branches: list[Callable], *operands) -> list[jax.Array]:
    """Each branch's ``[classes]`` result, every branch compiled on its own (no shared
    intermediates): a ``lax.map`` over the branch index of a ``lax.switch``."""
    results = jax.lax.map(
        lambda index: jax.lax.switch(index, branches, *operands), jnp.arange(len(branches))
    )
    return list(results)


def column_sums(functions: list[Callable], scores: jax.Array, *per_class) -> list:
    """For each of ``functions``, float32[classes]: the column sum of ``function(scores,
    *per_class)`` over float32 ``scores [n, classes]`` (``per_class``: float32[classes]
    arrays), each its own pass (:func:`separately`)."""
    branches = [
        lambda scores, *values, f=function: jnp.sum(f(scores, *values), axis=0)
        for function in functions
    ]
    return separately(branches, scores, *per_class)


class MaskedScores(NamedTuple):
    """Rows in or out, as the ``cpu`` kernels take them.

    Attributes:
      scores: float32[n, classes], :data:`LEFT_OUT` for rows left out.
      positive_scores: the scores of the kept positive entries. Where a bound ``m`` on
        their number is known and small: float32[m], one per entry, with its class in
        ``positive_classes`` (unused slots :data:`LEFT_OUT`, class 0). Else
        float32[n, classes], ``scores`` where the label is 1, else :data:`LEFT_OUT`.
      positive_classes: int32[m], or None for the ``[n, classes]`` form.
      positives: int32[classes], the positive rows kept.
      kept: int32[classes], the rows kept.
    """

    scores: jax.Array
    positive_scores: jax.Array
    positive_classes: jax.Array | None
    positives: jax.Array
    kept: jax.Array


def _numpy_positions(mask, slots: int):
    """Host side of :func:`positions` on CPU."""
    rows, columns = np.nonzero(np.asarray(mask))
    found = min(rows.size, slots)
    out = np.zeros((2, slots), np.int32)
    out[0, found:] = mask.shape[0]  # past the last row: gathers fill in
    out[0, :found], out[1, :found] = rows[:found], columns[:found]
    return out[0], out[1]


def positions(mask: jax.Array, slots: int, variant: str | None = None):
    """``(rows, columns)``, int32[slots] each: the True entries of bool ``mask [n, m]`` in
    row-major order, then ``(n, 0)`` in unused slots (``slots`` at least the True entries).
    On CPU NumPy's ``nonzero`` in a callback (several times faster than XLA's CPU
    ``nonzero``, a scatter); elsewhere ``jnp.nonzero``."""

    def cpu(mask):
        shape = jax.ShapeDtypeStruct((slots,), jnp.int32)
        host = functools.partial(_numpy_positions, slots=slots)
        return jax.pure_callback(host, (shape, shape), mask, vmap_method="sequential")

    def generic(mask):
        rows, columns = jnp.nonzero(mask, size=slots, fill_value=(mask.shape[0], 0))
        return rows.astype(jnp.int32), columns.astype(jnp.int32)

    if batching.rows_are_local():  # one device's rows, beside others: no callback
        return _positions_by_blocks(mask, slots)
    return batching.by_platform(variant, cpu=cpu, generic=generic)(mask)


def _positions_by_blocks(mask: jax.Array, slots: int):
    """:func:`positions` a block of rows at a time (a ``nonzero`` of each block, written
    after the entries found so far; the block's unused slots after them are overwritten by
    the next block's): temporaries of one block, not the int32 running counts of every
    entry that one ``nonzero`` of the whole mask takes."""
    n, m = mask.shape
    step = max(1, min(n, BLOCK_KEYS // max(m, 1)))
    starts = np.minimum(np.arange(-(-n // step)) * step, n - step)

    def add(found, index):
        rows, columns, count = found
        start = jnp.asarray(starts, jnp.int32)[index]
        piece = jax.lax.dynamic_slice_in_dim(mask, start, step, 0)
        piece = piece & (start + jnp.arange(step) >= index * step)[:, None]  # once each
        row, column = jnp.nonzero(piece, size=step * m, fill_value=(n - start, 0))
        rows = jax.lax.dynamic_update_slice(rows, (row + start).astype(jnp.int32), (count,))
        columns = jax.lax.dynamic_update_slice(columns, column.astype(jnp.int32), (count,))
        return (rows, columns, count + jnp.sum(piece, dtype=jnp.int32)), None

    empty = (
        jnp.full(slots + step * m, n, jnp.int32),
        jnp.zeros(slots + step * m, jnp.int32),
        jnp.int32(0),
    )
    (rows, columns, _), _ = jax.lax.scan(add, empty, jnp.arange(len(starts)))
    return rows[:slots], columns[:slots]


def masked_scores(rows: Rows, slots: int | None = None) -> MaskedScores:
    """:class:`MaskedScores` of rows with bool weights.

    Args:
      rows: :class:`Rows` with bool weights.
      slots: at least the kept positive entries of all classes together
        (:attr:`Rows.pooled_positive_slots`), or None. The positive entries are gathered
        into a list where it is at most an eighth of the matrix: their sums then cost a
        fraction of a pass over the scores.
    """
    if rows.weights.dtype != jnp.bool_:
        raise TypeError(f"masked_scores: needs bool row weights, got {rows.weights.dtype}")
    kept_positive = rows.labels & rows.element_weights
    scores = jnp.where(rows.element_weights, rows.scores, LEFT_OUT)
    positives = count_true(kept_positive)
    kept = jnp.broadcast_to(count_true(rows.element_weights), positives.shape)
    # Rows split over devices, seen whole (not one device's own rows, under shard_map):
    # the dense form (a list would take a nonzero over every device's rows).
    spread = batching.sharded_rows() is not None and not batching.rows_are_local()
    if slots is None or 8 * slots > scores.size or spread:
        positive_scores = jnp.where(rows.labels, scores, LEFT_OUT)
        return MaskedScores(scores, positive_scores, None, positives, kept)
    row, column = positions(kept_positive, slots)
    values = scores.at[row, column].get(mode="fill", fill_value=LEFT_OUT)
    return MaskedScores(scores, values, column, positives, kept)


def positive_sums(masked: MaskedScores, functions: list[Callable], *per_class) -> list:
    """For each of ``functions``, float32[classes]: the sum over each class's kept positive
    entries of ``function(score, *per_class values of its class)``, elementwise (0 at
    :data:`LEFT_OUT`). ``per_class``: float32[classes] arrays."""
    if masked.positive_classes is None:
        return column_sums(functions, masked.positive_scores, *per_class)
    classes = masked.positive_classes
    at_entry = [value[classes] for value in per_class]
    values = jnp.stack([f(masked.positive_scores, *at_entry) for f in functions], axis=1)
    table = jnp.zeros((masked.positives.shape[0], len(functions)), jnp.float32)
    return list(table.at[classes].add(values).T)


def _above(scores, thresholds):
    return column_sum(step(scores - thresholds))


def cpu_counts(masked: MaskedScores, thresholds: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Exact ``(true_positives, predicted_positives)``, int32[classes], of
    ``scores > thresholds`` (the ``cpu`` kernel: one pass over the scores, and one over
    the positive entries, or a second pass where they are kept as a matrix)."""
    if masked.positive_classes is None:
        predicted, true_positives = separately(
            [lambda s, p, t: _above(s, t), lambda s, p, t: _above(p, t)],
            masked.scores,
            masked.positive_scores,
            thresholds,
        )
        return true_positives, predicted
    classes = masked.positive_classes
    above = step(masked.positive_scores - thresholds[classes]).astype(jnp.int32)
    true_positives = jnp.zeros_like(masked.positives).at[classes].add(above)
    return true_positives, _above(masked.scores, thresholds)


def generic_counts(rows: Rows, thresholds: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Exact ``(true_positives, predicted_positives)`` of ``scores > thresholds`` on any
    weighted rows (the ``generic`` kernel), in the count dtype of the weights."""
    counts = weighted_counts(rows.scores > thresholds, *element_weights(rows.labels, rows.weights))
    return counts.true_positives, counts.predicted_positives


def score_of_thresholds(
    rows: Rows,
    thresholds: jax.Array,
    objective: objectives.Objective,
    average: str,
    variant: str | None = None,
) -> jax.Array:
    """The objective of ``scores > t`` on weighted rows for each of several threshold
    vectors.

    Args:
      rows: :class:`Rows`.
      thresholds: float32[candidates, classes].
      objective: a :class:`jaxthresh.objectives.Objective`.
      average: "micro", "macro" or "weighted" (static).
      variant: the counting kernel, "cpu" or "generic"; None chooses by backend (rows
        with int or float weights always take "generic").

    Returns:
      float32[candidates], from exact counts. The ``cpu`` kernel masks the rows once and
      counts the candidates one after the other.
    """

    def cpu(rows, thresholds):
        masked = masked_scores(rows, rows.pooled_positive_slots)
        counts = batching.one_at_a_time(cpu_counts)
        true_positives, predicted = jax.vmap(counts, in_axes=(None, 0))(masked, thresholds)
        counted = Counts.of(true_positives, predicted, masked.positives, masked.kept)
        return objective_score(counted, objective, average)

    def generic(rows, thresholds):
        return jax.vmap(lambda t: score_above(rows, t, objective, average))(thresholds)

    if rows.weights.dtype != jnp.bool_:
        variant = "generic"
    return batching.by_platform(variant, cpu=cpu, generic=generic)(rows, thresholds)
