"""Every possible cut of sorted scores, with its counts: the basis of the exact searches.

In a column of scores sorted in descending order, a cut predicts every score at or above
some value positive. Counts at every cut are cumulative sums; equal scores are never split
(``scores > threshold`` predicts equal scores together).

How it is computed: XLA sorts a lone ``int32`` array about five times faster than it sorts
floats or key-value pairs on CPU, so each score is mapped to an order-preserving ``int32``
key and only the keys are sorted. Each score's *rank* (the first sorted position of its key,
by binary search) then serves as a bin: a scatter-add of weights and labels by rank gives,
at the first position of every distinct score, how many rows have that score. Equal scores
share a bin, which is exactly the tie rule. Sorting and ranking depend on the scores alone,
so under ``vmap`` over row weights (folds) they are computed once.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh.core.metrics import Counts, count_dtype


class Cuts(NamedTuple):
    """The cuts of each column of a score matrix, column-major: fields ``[columns, n]``.

    Position ``j`` of a column is its ``j``-th highest score (``upper``). Where ``valid``, it
    is the first position of a distinct score with weight, and the cut there predicts every
    score ``>= upper``: ``predicted`` and ``true_positives`` count that cut.

    Attributes:
      upper: float32, the column's scores sorted in descending order.
      lower: float32, the highest score of weight > 0 below ``upper`` (``-inf`` if none).
      predicted: cumulative weight of the rows predicted positive (int32, or float32 for
        float weights; likewise the other counts).
      true_positives: cumulative weight of the positive rows predicted positive.
      valid: bool, a cut that exists and is not a repeat (its score has weight > 0).
      added: the weight of the rows whose score is ``upper`` (0 where not valid).
      added_positives: the weight of those rows that are positive.
      highest: float32[columns], the highest score of weight > 0: the threshold that
        predicts nothing.
      keys: int32, :func:`descending_keys` of ``upper`` (ascending), for look-ups.
    """

    upper: jax.Array
    lower: jax.Array
    predicted: jax.Array
    true_positives: jax.Array
    valid: jax.Array
    added: jax.Array
    added_positives: jax.Array
    highest: jax.Array
    keys: jax.Array


def descending_keys(scores: jax.Array) -> jax.Array:
    """int32 keys whose ascending order is the descending order of the finite float32
    ``scores``, equal exactly where the scores compare equal (-0.0, 0.0 and subnormals
    share a key)."""
    # Comparisons treat -0.0 as 0.0 and (XLA on CPU flushes them) subnormals as 0.0 too:
    # map them all to 0.0 so that keys are equal exactly where comparisons say so.
    scores = jnp.where(jnp.abs(scores) < jnp.finfo(jnp.float32).tiny, 0.0, scores)
    bits = jax.lax.bitcast_convert_type(scores.astype(jnp.float32), jnp.int32)
    return -jnp.where(bits < 0, bits ^ 0x7FFFFFFF, bits)


def _scores_of(keys: jax.Array) -> jax.Array:
    """Inverse of :func:`descending_keys`."""
    bits = -keys
    return jax.lax.bitcast_convert_type(jnp.where(bits < 0, bits ^ 0x7FFFFFFF, bits), jnp.float32)


def score_ranks(scores: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Sorted keys and ranks of each row of ``scores``: float32[columns, n].

    Returns:
      ``(sorted_keys, ranks)``, both int32[columns, n]: the keys of :func:`descending_keys`
      sorted ascending, and for each score the first position of its key among them.
    """
    keys = descending_keys(scores)
    sorted_keys = jnp.sort(keys, axis=1)
    ranks = jax.vmap(lambda row, queries: jnp.searchsorted(row, queries, method="scan"))(
        sorted_keys, keys
    )
    return sorted_keys, ranks.astype(jnp.int32)


def bin_by_rank(ranks: jax.Array, values: jax.Array) -> jax.Array:
    """Adds ``values[c, i]`` into position ``ranks[c, i]`` of row ``c``: [columns, n]."""
    columns = jnp.broadcast_to(jnp.arange(ranks.shape[0])[:, None], ranks.shape)
    return jnp.zeros(ranks.shape, values.dtype).at[columns, ranks].add(values)


def column_cuts(scores: jax.Array, labels: jax.Array, weights: jax.Array) -> Cuts:
    """The cuts of every row of ``scores`` (one row per column of the original matrix).

    Args:
      scores: float32[columns, n], finite.
      labels: bool[columns, n].
      weights: ``[columns, n]`` (or broadcastable), the non-negative weight of each score:
        bool, int or float (counted as int32, or float32 for float weights). Scores of
        weight 0 neither count nor bound a threshold.

    Returns:
      :class:`Cuts`.
    """
    weights = jnp.asarray(weights)
    weights = jnp.broadcast_to(weights.astype(count_dtype(weights.dtype)), scores.shape)
    sorted_keys, ranks = score_ranks(scores)
    upper = _scores_of(sorted_keys)
    added = bin_by_rank(ranks, weights)
    added_positives = bin_by_rank(ranks, jnp.where(labels, weights, 0))
    weighted = jnp.where(added > 0, upper, -jnp.inf)
    highest = jnp.max(weighted, axis=1)
    return grouped_cuts(upper, weighted, added, added_positives, highest, sorted_keys)


def grouped_cuts(upper, tops, added, added_positives, highest, keys) -> Cuts:
    """:class:`Cuts` of groups of rows in descending order, one position per group.

    Args:
      upper: float32[columns, m], each group's lowest possible score (a cut predicts the
        group and all above it).
      tops: float32[columns, m], each group's highest score, ``-inf`` for an empty group;
        the highest of those below a cut bounds its threshold from below (``lower``).
      added, added_positives: ``[columns, m]``, the weight of each group's rows and of its
        positive rows.
      highest: float32[columns], the highest score of weight > 0.
      keys: int32[columns, m], ascending order keys for :func:`counts_above`.
    """
    below = jnp.concatenate([tops[:, 1:], jnp.full_like(tops[:, :1], -jnp.inf)], axis=1)
    return Cuts(
        upper=upper,
        lower=jax.lax.cummax(below, axis=1, reverse=True),
        predicted=jnp.cumsum(added, axis=1),
        true_positives=jnp.cumsum(added_positives, axis=1),
        valid=added > 0,
        added=added,
        added_positives=added_positives,
        highest=highest,
        keys=keys,
    )


def counts_above(cuts: Cuts, thresholds: jax.Array) -> Counts:
    """Exact weighted counts of ``scores > thresholds`` for each column, by binary search.

    After the one sort behind ``cuts``, a threshold per column costs O(log n) instead of a
    pass over the data: the count is the cumulative count just before the first score that
    is not above the threshold.

    Args:
      cuts: :class:`Cuts` of ``[columns, n]`` scores.
      thresholds: float32[columns], finite.

    Returns:
      :class:`jaxthresh.Counts` of ``[columns]``, as ``confusion_counts`` would give.
    """
    queries = descending_keys(thresholds)
    # Scores above t are exactly those whose key is below key(t).
    above = jax.vmap(lambda row, query: jnp.searchsorted(row, query, method="scan"))(
        cuts.keys, queries
    )
    last = jnp.maximum(above - 1, 0)[:, None]
    some = above > 0

    def take(cumulative):
        return jnp.where(some, jnp.take_along_axis(cumulative, last, axis=1)[:, 0], 0)

    return Counts(take(cuts.true_positives), take(cuts.predicted), cuts.true_positives[:, -1])


def threshold_between(upper: jax.Array, lower: jax.Array) -> jax.Array:
    """A threshold ``t`` with ``lower <= t < upper`` as XLA compares (subnormals flushed):
    halfway where float32 allows, else ``lower``; where ``lower`` is ``-inf`` (every score
    predicted), the next float below ``upper``, and never a subnormal one."""
    middle = lower + (upper - lower) / 2
    tiny = jnp.finfo(jnp.float32).tiny
    below = jnp.minimum(jnp.nextafter(upper, jnp.full_like(upper, -jnp.inf)), upper - tiny)
    return jnp.where(jnp.isfinite(lower), jnp.where(middle < upper, middle, lower), below)


def above_all(highest: jax.Array) -> jax.Array:
    """A threshold that predicts nothing: the next float above the highest score, so that
    float64 scores that round to ``highest`` are not above it either."""
    return jnp.nextafter(highest, jnp.full_like(highest, jnp.inf))
