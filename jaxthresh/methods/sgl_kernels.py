"""SGLThresh's epoch kernels: the exact counts and the surrogate gradient of an epoch.

With one threshold ``t`` and slope ``a`` per class, ``x = score - t`` and the surrogate
factor ``g = sig(a x) sig(-a x)`` (:mod:`jaxthresh.core.surrogate`), F-beta depends on the
thresholds only through the per-class counts ``TP`` and ``PP``. The chain rule that autodiff
follows through :func:`jaxthresh.heaviside` therefore collapses to

    dF/dt = -a * sum_rows w g (dF/dTP * label + dF/dPP)
    dF/da =      sum_rows w x g (dF/dTP * label + dF/dPP)

(``w`` the row weight), so an epoch is four reductions over the scores: ``PP`` and ``TP``
(exact), then the two sums above, weighted by ``dF/dTP`` and ``dF/dPP`` (``[classes]``,
``jax.grad`` of F-beta in the counts). A :class:`Kernel` computes them:

* :func:`rows_kernel` ``"cpu"``: rows in or out (bool weights) as ``-inf``-masked scores,
  every reduction its own pass (:mod:`jaxthresh.core.counting` says why). Since
  ``w (dF/dTP label + dF/dPP)`` summed is ``dF/dTP`` times the sum over the positive
  entries plus ``dF/dPP`` times the sum over all, the passes over the scores read no
  labels, and the positive entries' sums come from their list (a scatter-add): an epoch
  is three passes over the scores (predicted count, the two gradient sums);
* :func:`rows_kernel` ``"generic"``: weighted sums of any row weights, written plainly for
  XLA to fuse and batch (accelerators; also the CPU path for int and float weights);
* :func:`histogram_kernel`: cells of a :class:`jaxthresh.Histogram` as elements weighted by
  their rows, counts by binary search over the cell centres, either variant of the sums.

The autodiff epoch through :func:`jaxthresh.heaviside` (``sgl.py``) is the reference the
tests compare these against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh.core import batching, counting
from jaxthresh.core.histogram import Histogram, cell_centres
from jaxthresh.core.metrics import element_weights
from jaxthresh.core.surrogate import sigmoid_derivative_factor
from jaxthresh.core.validation import Rows


class Kernel(NamedTuple):
    """What an SGLThresh epoch needs from the data.

    Attributes:
      counts_at: ``thresholds -> (true_positives, predicted_positives)``, exact, [classes].
      gradient_at: ``(thresholds, slopes, dF/dTP, dF/dPP) -> (dF/dthresholds, dF/dslopes)``.
      positives: [classes], the weight of the positive rows.
      total: [classes], the weight of all rows.
    """

    counts_at: Callable
    gradient_at: Callable
    positives: jax.Array
    total: jax.Array


def _factor(scores, t, a):
    """The surrogate factor of each element (0 at ``-inf``)."""
    return sigmoid_derivative_factor(scores - t, a)


def _slope_factor(scores, t, a):
    """``x`` times the surrogate factor, ``x = score - t`` (0 at ``-inf``)."""
    x = jnp.maximum(scores - t, jnp.finfo(jnp.float32).min)  # -inf: 0, not NaN
    return x * sigmoid_derivative_factor(x, a)


def _weighted_sum(factor):
    """The sum over elements of ``factor`` times ``w (dF/dTP label + dF/dPP)``, from the
    weight of each element's positive rows and of all its rows."""

    def weighted_sum(values, positive_weights, weights, t, a, tp_weight, pp_weight):
        if positive_weights.dtype == jnp.bool_:  # labels: the positive weight is w there
            coefficient = jnp.where(positive_weights, tp_weight + pp_weight, pp_weight) * weights
        else:
            coefficient = tp_weight * positive_weights + pp_weight * weights
        return jnp.sum(factor(values, t, a) * coefficient, axis=0)

    return weighted_sum


def gradient_sums(
    values,
    positive_weights,
    weights,
    thresholds,
    slopes,
    tp_weight,
    pp_weight,
    *,
    learn_slope,
    variant,
):
    """``(dF/dthresholds, dF/dslopes)``, float32[classes] each.

    Args:
      values: float32[m, classes], each element's score (``-inf``: left out).
      positive_weights: float32[m, classes], the weight of its positive rows (0/1 labels
        for rows).
      weights: float32[m, classes], the weight of all its rows.
      thresholds, slopes, tp_weight, pp_weight: float32[classes].
      learn_slope: compute the slopes' gradient (else zeros; one pass less).
      variant: "cpu" (each sum its own pass) or "generic" (both in one expression).
    """
    operands = (values, positive_weights, weights, thresholds, slopes, tp_weight, pp_weight)
    factors = [_factor, _slope_factor] if learn_slope else [_factor]
    branches = [_weighted_sum(factor) for factor in factors]
    if variant == "cpu":
        sums = counting.separately(branches, *operands)
    else:
        sums = [branch(*operands) for branch in branches]
    if not learn_slope:
        sums.append(jnp.zeros_like(sums[0]))
    return -slopes * sums[0], sums[1]


def _gradient_of(values, positive_weights, weights, *, learn_slope: bool, variant: str):
    """A :class:`Kernel`'s ``gradient_at`` over fixed elements (see :func:`gradient_sums`)."""

    def gradient_at(thresholds, slopes, tp_weight, pp_weight):
        return gradient_sums(
            values,
            positive_weights,
            weights,
            thresholds,
            slopes,
            tp_weight,
            pp_weight,
            learn_slope=learn_slope,
            variant=variant,
        )

    return gradient_at


def _masked_gradient(masked: counting.MaskedScores, *, learn_slope: bool):
    """The ``cpu`` rows kernel's ``gradient_at``: the sums over every kept row, each its
    own pass over the scores (no labels read), and the same over the positive entries
    alone; ``w (dF/dTP label + dF/dPP)`` summed is ``dF/dTP`` times the second plus
    ``dF/dPP`` times the first."""
    functions = [_factor, _slope_factor] if learn_slope else [_factor]

    def gradient_at(thresholds, slopes, tp_weight, pp_weight):
        every = counting.column_sums(functions, masked.scores, thresholds, slopes)
        positive = counting.positive_sums(masked, functions, thresholds, slopes)
        sums = [tp_weight * p + pp_weight * e for p, e in zip(positive, every, strict=True)]
        if not learn_slope:
            sums.append(jnp.zeros_like(sums[0]))
        return -slopes * sums[0], sums[1]

    return gradient_at


def rows_kernel(rows: Rows, *, learn_slope: bool, variant: str) -> Kernel:
    """The :class:`Kernel` of weighted rows: ``"cpu"`` (bool weights only) or
    ``"generic"`` (any weights)."""
    if variant == "cpu":
        masked = counting.masked_scores(rows, rows.pooled_positive_slots)
        return Kernel(
            lambda t: counting.cpu_counts(masked, t),
            _masked_gradient(masked, learn_slope=learn_slope),
            masked.positives,
            masked.kept,
        )
    positive_weights, weights = element_weights(rows.labels, rows.weights)
    # The labels themselves, not [n, classes] weights made from them once (which XLA
    # would hold beside the scores for the whole fit): the weights are formed inside
    # each epoch's fused reductions.
    return Kernel(
        lambda t: counting.generic_counts(rows, t),
        _gradient_of(
            rows.scores,
            rows.labels,
            weights.astype(jnp.float32),
            learn_slope=learn_slope,
            variant="generic",
        ),
        jnp.sum(positive_weights, axis=0),
        jnp.broadcast_to(jnp.sum(weights, axis=0), rows.scores.shape[1:]),
    )


def summed_over_devices(kernel: Kernel) -> Kernel:
    """``kernel`` of one device's rows (inside a ``shard_map`` over the rows axis) made
    the kernel of every device's rows: its per-class sums are added across the devices
    (``psum``; exact for the counts)."""

    def summed(values):
        return jax.tree.map(lambda v: jax.lax.psum(v, batching.ROWS), values)

    return Kernel(
        lambda t: summed(kernel.counts_at(t)),
        lambda *args: summed(kernel.gradient_at(*args)),
        summed(kernel.positives),
        summed(kernel.total),
    )


def histogram_kernel(histogram: Histogram, *, learn_slope: bool, variant: str) -> Kernel:
    """The :class:`Kernel` of a histogram, every cell's rows at its centre: exact counts
    by binary search over the centres, the gradient from sums over cells."""
    centres = cell_centres(histogram)

    def suffix_sums(table):  # [classes, cells + 1]: the weight in cells k and above
        total = jnp.cumsum(table[:, ::-1], axis=1)[:, ::-1]
        return jnp.concatenate([total, jnp.zeros_like(total[:, :1])], axis=1)

    above_counts = suffix_sums(histogram.counts)
    above_positives = suffix_sums(histogram.positives)
    classes = jnp.arange(centres.shape[0])

    def counts_at(thresholds):
        first = jax.vmap(lambda row, t: jnp.searchsorted(row, t, side="right"))(centres, thresholds)
        return above_positives[classes, first], above_counts[classes, first]

    gradient_at = _gradient_of(
        centres.T,
        histogram.positives.T.astype(jnp.float32),
        histogram.counts.T.astype(jnp.float32),
        learn_slope=learn_slope,
        variant=variant,
    )
    return Kernel(counts_at, gradient_at, above_positives[:, 0], above_counts[:, 0])
