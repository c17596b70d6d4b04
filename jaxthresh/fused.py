"""A fused SGLThresh epoch: exact counts and the surrogate gradient from four per-class sums.

For one threshold ``t`` and slope ``a`` per class, with ``x = score - t`` and the surrogate
factor ``g = sig(a x) sig(-a x)`` (:mod:`jaxthresh.surrogate`), F-beta depends on the
thresholds only through the per-class counts ``TP`` and ``PP``. The chain rule that
autodiff follows through :func:`jaxthresh.heaviside` therefore collapses to

    dF/dt = -a * sum_rows g * (dF/dTP * label + dF/dPP)
    dF/da =      sum_rows x * g * (dF/dTP * label + dF/dPP)

so an epoch needs four reductions over the scores: ``PP`` and ``TP`` (exact), then the two
sums above, weighted by ``dF/dTP`` and ``dF/dPP`` (``[classes]``, from the counts). Each is
one pass over the scores.

Why four separate passes and not one: on CPU, XLA compiles a reduction whose input is an
elementwise expression of the scores and of per-class vectors into one vectorized,
multi-threaded kernel, but it writes any intermediate that two reductions share (or a
per-row vector broadcast along the reduced axis) out to memory first, which costs five to
ten times more (``experiments/reduction_fusion.py``). So each sum is computed in its own
branch of a ``lax.switch``, where it shares nothing, and rows dropped from a fit carry a score
of ``-inf`` instead of a weight. Batched reductions (under ``vmap``) are slow too, so a fit
built on these sums is made to run once per batch element under ``vmap``
(:func:`one_at_a_time`): per-fold copies of the scores are made once per fit, not per epoch.

Counts are sums of exact 0.0/1.0 steps in float32, exact below 2**24 rows; longer inputs are
summed in blocks of 2**23 rows and the block totals added as int32. Rows carry weight 0 or 1
only (a row left out, or in). :func:`fused_gradient` also takes per-element weights, for
histogram cells standing for many rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxthresh.metrics import Counts, fbeta_from_counts
from jaxthresh.surrogate import _sigmoid_derivative_factor

#: The score a row dropped from the fit carries: never above a threshold, zero gradient.
DROPPED = -jnp.inf

# A float32 step that XLA keeps inside one vectorized reduction (a comparison does not):
# x * 2**126 is >= 1 for every normal x > 0 and overflows to inf beyond; subnormal x
# (flushed to zero by XLA on CPU) give 0, as ``heaviside`` does there. A device that keeps
# subnormals would count a fraction where score - threshold is a non-zero subnormal, which
# takes both below 1e-30 in magnitude.
_STEP_SCALE = 2.0**126
_BLOCK_ROWS = 2**23


def _step(x: jax.Array) -> jax.Array:
    """``1.0 * (x > 0)`` written with maxima only (``min``/``clip`` leave the fast kernel)."""
    return -jnp.maximum(-jnp.maximum(x * _STEP_SCALE, 0.0), -1.0)


def one_at_a_time(function: Callable) -> Callable:
    """Makes ``vmap`` of ``function`` run it once per batch element, in a ``lax.map`` loop.

    Args:
      function: takes and returns arrays (or pytrees of arrays); its reductions are fast
        unbatched.

    Returns:
      ``function`` with a custom batching rule; nested vmaps nest the loops.
    """
    wrapped = jax.custom_batching.custom_vmap(function)

    @wrapped.def_vmap
    def _rule(axis_size, in_batched, *args):
        del axis_size
        leaves, tree = jax.tree.flatten(args)
        flags = jax.tree.leaves(in_batched)
        batched = [leaf for leaf, is_batched in zip(leaves, flags, strict=True) if is_batched]

        def one(batched_slice):
            slices = iter(batched_slice)
            full = [next(slices) if b else leaf for leaf, b in zip(leaves, flags, strict=True)]
            return wrapped(*jax.tree.unflatten(tree, full))

        out = jax.lax.map(one, batched)
        return out, jax.tree.map(lambda _: True, out)

    return wrapped


def _separately(branches: list[Callable], *operands) -> list[jax.Array]:
    """Each branch's ``[classes]`` result, every branch compiled on its own (no shared
    intermediates)."""
    results = jax.lax.map(
        lambda index: jax.lax.switch(index, branches, *operands), jnp.arange(len(branches))
    )
    return list(results)


def _column_sum(values: jax.Array, block_rows: int = _BLOCK_ROWS) -> jax.Array:
    """Exact column sums of float32 0/1 ``values [n, classes]``, as int32: one float32 sum
    up to ``2 * block_rows`` rows (exact below 2**24), else sums of ``block_rows``-row
    blocks added as int32."""
    rows = values.shape[0]
    if rows < 2 * block_rows:
        return jnp.sum(values, axis=0).astype(jnp.int32)
    blocks = -(-rows // block_rows)
    padded = jnp.pad(values, ((0, blocks * block_rows - rows), (0, 0)))
    block_sums = jnp.sum(padded.reshape(blocks, block_rows, -1), axis=1)
    return jnp.sum(block_sums.astype(jnp.int32), axis=0)


def _predicted(scores, thresholds):
    """int32[classes]: how many ``scores [n, classes]`` lie above ``thresholds``."""
    return _column_sum(_step(scores - thresholds))


def fused_counts(scores: jax.Array, positive_scores: jax.Array, thresholds: jax.Array):
    """Exact ``(true_positives, predicted_positives)`` of ``scores > thresholds``.

    Args:
      scores: float32[n, classes], ``-inf`` for rows left out.
      positive_scores: float32[n, classes], ``scores`` where the label is 1, else ``-inf``.
      thresholds: float32[classes].

    Returns:
      ``(true_positives, predicted_positives)``, int32[classes] each.
    """
    predicted, true_positives = _separately(
        [lambda s, p, t: _predicted(s, t), lambda s, p, t: _predicted(p, t)],
        scores,
        positive_scores,
        thresholds,
    )
    return true_positives, predicted


def _gradient_sums(learn_slope: bool, weighted: bool):
    def coefficient(y, w, tp_weight, pp_weight):
        return tp_weight * y + (pp_weight * w if weighted else pp_weight)

    def threshold_sum(s, y, w, t, a, tp_weight, pp_weight):
        factor = _sigmoid_derivative_factor(s - t, a)
        return jnp.sum(factor * coefficient(y, w, tp_weight, pp_weight), axis=0)

    def slope_sum(s, y, w, t, a, tp_weight, pp_weight):
        # -inf rows: x = -inf, factor 0; the maximum keeps x * factor at 0, not nan.
        x = jnp.maximum(s - t, jnp.finfo(jnp.float32).min)
        factor = _sigmoid_derivative_factor(x, a)
        return jnp.sum(x * factor * coefficient(y, w, tp_weight, pp_weight), axis=0)

    branches = [threshold_sum, slope_sum] if learn_slope else [threshold_sum]

    def sums(*operands):
        results = _separately(branches, *operands)
        if not learn_slope:
            results.append(jnp.zeros_like(results[0]))
        return tuple(results)

    return sums


_GRADIENT_SUMS = {
    (learn, weighted): _gradient_sums(learn, weighted)
    for learn in (False, True)
    for weighted in (False, True)
}


def fused_gradient(
    scores: jax.Array,
    labels: jax.Array,
    thresholds: jax.Array,
    slopes: jax.Array,
    tp_weight: jax.Array,
    pp_weight: jax.Array,
    *,
    learn_slope: bool,
    weights: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """The surrogate gradient of F-beta with respect to thresholds and slopes.

    Args:
      scores: float32[n, classes], ``-inf`` for rows left out.
      labels: float32[n, classes]: 0.0/1.0, or the weight of positive rows (histograms).
      thresholds: float32[classes].
      slopes: float32[classes].
      tp_weight: float32[classes], dF/dTP at the current counts.
      pp_weight: float32[classes], dF/dPP at the current counts.
      learn_slope: whether the slopes' gradient is computed (else zeros; one pass less).
      weights: None (every row counts once) or float32[n, classes], the weight of all rows
        (histograms: each element stands for a cell of rows).

    Returns:
      ``(d F / d thresholds, d F / d slopes)``, float32[classes] each.
    """
    threshold_sum, slope_sum = _GRADIENT_SUMS[learn_slope, weights is not None](
        scores,
        labels,
        jnp.float32(1.0) if weights is None else weights,
        thresholds,
        slopes,
        tp_weight,
        pp_weight,
    )
    return -slopes * threshold_sum, slope_sum


@functools.cache
def split_fbeta(average: str) -> Callable:
    """``(every, fitting, thresholds, beta) -> (F-beta on fitting rows, F-beta on the
    rest)`` from exact counts: those over ``every`` row minus those over the ``fitting``
    rows, four passes over the scores. ``every`` and ``fitting`` come from
    :func:`masked_rows` (the fitting rows among every row); ``vmap`` runs it once per batch
    element. ``average`` is "micro" or "macro"."""

    def fbeta(true_positives, predicted_positives, positives, beta):
        counts = Counts(true_positives, predicted_positives, positives)
        return fbeta_from_counts(counts, average=average, beta=beta)

    def score(every, fitting, thresholds, beta):
        every_tp, every_pp = fused_counts(*every[:2], thresholds)
        fit_tp, fit_pp = fused_counts(*fitting[:2], thresholds)
        held_out = (every_tp - fit_tp, every_pp - fit_pp, every[2] - fitting[2])
        return fbeta(fit_tp, fit_pp, fitting[2], beta), fbeta(*held_out, beta)

    return one_at_a_time(score)


def masked_rows(
    scores: jax.Array, labels: jax.Array, row_weights: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """:func:`masked_scores` and the int32[classes] count of positive rows kept."""
    positives = jnp.sum(jnp.where(labels, row_weights[:, None] > 0, 0), axis=0, dtype=jnp.int32)
    return (*masked_scores(scores, labels, row_weights), positives)


def masked_scores(
    scores: jax.Array, labels: jax.Array, row_weights: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """The fused sums' inputs: ``(scores, positive_scores)`` with :data:`DROPPED` for rows
    of weight 0 and, in ``positive_scores``, for negative labels.

    Args:
      scores: float32[n, classes].
      labels: bool[n, classes].
      row_weights: int[n], 0 or 1.
    """
    scores = jnp.where(row_weights[:, None] > 0, scores, DROPPED)
    return scores, jnp.where(labels, scores, DROPPED)


__all__ = [
    "DROPPED",
    "fused_counts",
    "fused_gradient",
    "masked_rows",
    "masked_scores",
    "one_at_a_time",
    "split_fbeta",
]
