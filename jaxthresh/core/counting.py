"""Exact counts of ``scores > thresholds`` over weighted rows: one kernel per backend.

``generic``: counts of a comparison, weighted (any row weights); what XLA batches and fuses
well on accelerators.

``cpu``: for rows that are in or out (bool weights: folds, padding, no weights). XLA on
CPU compiles a reduction whose input is an elementwise expression of the scores and of
per-class vectors into one vectorized, multi-threaded kernel; a comparison or ``select``,
a per-row vector broadcast along the reduced axis, or an intermediate that two reductions
share is written to memory first, three to ten times slower
(``experiments/cpu_kernel_tricks.py`` measures each). So:

* rows left out carry a score of ``-inf`` (:class:`MaskedScores`) instead of a weight, and
  true positives are counted on a copy with ``-inf`` at negative labels;
* the step is written with maxima only (:func:`step`);
* each sum is computed in its own branch of a ``lax.switch`` (:func:`separately`), where it
  shares nothing with the others.

Counts are float32 sums of exact 0.0/1.0 steps, exact below 2**24 rows; longer inputs are
summed in blocks of 2**23 rows whose totals are added as int32
(:func:`jaxthresh.core.reductions.column_sum`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh.core import batching
from jaxthresh.core.metrics import (
    Counts,
    element_weights,
    fbeta_above,
    fbeta_from_counts,
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


class MaskedScores(NamedTuple):
    """Rows in or out, as the ``cpu`` kernels take them.

    Attributes:
      scores: float32[n, classes], :data:`LEFT_OUT` for rows left out.
      positive_scores: float32[n, classes], ``scores`` where the label is 1, else
        :data:`LEFT_OUT`.
      positives: int32[classes], the positive rows kept.
    """

    scores: jax.Array
    positive_scores: jax.Array
    positives: jax.Array


def masked_scores(rows: Rows) -> MaskedScores:
    """:class:`MaskedScores` of rows with bool weights."""
    if rows.weights.dtype != jnp.bool_:
        raise TypeError(f"masked_scores: needs bool row weights, got {rows.weights.dtype}")
    scores = jnp.where(rows.weights[:, None], rows.scores, LEFT_OUT)
    positive_scores = jnp.where(rows.labels, scores, LEFT_OUT)
    positives = count_true(rows.labels & rows.weights[:, None])
    return MaskedScores(scores, positive_scores, positives)


def _above(scores, thresholds):
    return column_sum(step(scores - thresholds))


def cpu_counts(masked: MaskedScores, thresholds: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Exact ``(true_positives, predicted_positives)``, int32[classes], of
    ``scores > thresholds`` (the ``cpu`` kernel: two separate passes)."""
    predicted, true_positives = separately(
        [lambda s, p, t: _above(s, t), lambda s, p, t: _above(p, t)],
        masked.scores,
        masked.positive_scores,
        thresholds,
    )
    return true_positives, predicted


def generic_counts(rows: Rows, thresholds: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Exact ``(true_positives, predicted_positives)`` of ``scores > thresholds`` on any
    weighted rows (the ``generic`` kernel), in the count dtype of the weights."""
    counts = weighted_counts(rows.scores > thresholds, *element_weights(rows.labels, rows.weights))
    return counts.true_positives, counts.predicted_positives


def fbeta_of_thresholds(
    rows: Rows, thresholds: jax.Array, *, average: str, beta, variant: str | None = None
) -> jax.Array:
    """F-beta of ``scores > t`` on weighted rows for each of several threshold vectors.

    Args:
      rows: :class:`Rows`.
      thresholds: float32[candidates, classes].
      average: "micro" or "macro" (static).
      beta: weight of recall.
      variant: the counting kernel, "cpu" or "generic"; None chooses by backend (rows
        with int or float weights always take "generic").

    Returns:
      float32[candidates], from exact counts. The ``cpu`` kernel masks the rows once and
      counts the candidates one after the other.
    """

    def fbeta(true_positives, predicted, positives):
        return fbeta_from_counts(
            Counts(true_positives, predicted, positives), average=average, beta=beta
        )

    def cpu(rows, thresholds):
        masked = masked_scores(rows)
        counts = batching.one_at_a_time(cpu_counts)
        true_positives, predicted = jax.vmap(counts, in_axes=(None, 0))(masked, thresholds)
        return fbeta(true_positives, predicted, masked.positives)

    def generic(rows, thresholds):
        return jax.vmap(lambda t: fbeta_above(rows, t, average=average, beta=beta))(thresholds)

    if rows.weights.dtype != jnp.bool_:
        variant = "generic"
    return batching.by_platform(variant, cpu=cpu, generic=generic)(rows, thresholds)
