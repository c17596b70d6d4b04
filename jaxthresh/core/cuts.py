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


def order_keys(values: jax.Array) -> jax.Array:
    """int32 keys in the order of the float32 ``values`` (NaN excluded): ``key(a) < key(b)``
    exactly where ``a < b`` for the values themselves, subnormals included (XLA on CPU
    flushes subnormals to zero in float comparisons and arithmetic; bit patterns it does
    not touch). -0.0 and 0.0 share a key, as they compare equal."""
    bits = jax.lax.bitcast_convert_type(jnp.asarray(values, jnp.float32), jnp.int32)
    # Negative floats: flip the magnitude bits so that the order reverses, then shift by
    # one so that -0.0 lands on 0.0's key and the keys stay contiguous.
    return jnp.where(bits < 0, (bits ^ 0x7FFFFFFF) + 1, bits)


def from_order_keys(keys: jax.Array) -> jax.Array:
    """The float32 value of each key of :func:`order_keys` (0.0 for the key of ±0.0)."""
    bits = jnp.where(keys < 0, (keys - 1) ^ 0x7FFFFFFF, keys)
    return jax.lax.bitcast_convert_type(bits, jnp.float32)


def descending_keys(scores: jax.Array) -> jax.Array:
    """int32 keys whose ascending order is the descending order of the finite float32
    ``scores`` (:func:`order_keys`, negated)."""
    return -order_keys(scores)


def _scores_of(keys: jax.Array) -> jax.Array:
    """Inverse of :func:`descending_keys`."""
    return from_order_keys(-keys)


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
    return grouped_cuts(upper, weighted, added, added_positives, highest_of(weighted), sorted_keys)


def highest_of(values: jax.Array, axis: int = 1) -> jax.Array:
    """The highest of float32 ``values`` along ``axis``, exactly (on order keys: XLA's
    ``max`` would compare subnormals as zero)."""
    return from_order_keys(jnp.max(order_keys(values), axis=axis))


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
    lower = from_order_keys(jax.lax.cummax(order_keys(below), axis=1, reverse=True))
    return Cuts(
        upper=upper,
        lower=lower,
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
    """A threshold ``t`` with ``lower <= t < upper`` for the values themselves (subnormals
    included): halfway where float32 allows, else halfway in the order of the floats, which
    is ``lower`` only where the two are adjacent floats; where ``lower`` is ``-inf`` (every
    score predicted), the float just below ``upper``. The comparisons are made on
    :func:`order_keys`, which XLA does not flush."""
    upper_key, lower_key = order_keys(upper), order_keys(lower)
    middle = lower + (upper - lower) / 2
    middle_key = order_keys(middle)
    halfway = (lower_key & upper_key) + ((lower_key ^ upper_key) >> 1)  # no overflow
    ordinal = from_order_keys(jnp.where(jnp.isneginf(lower), upper_key - 1, halfway))
    fits = jnp.isfinite(lower) & (lower_key < middle_key) & (middle_key < upper_key)
    return jnp.where(fits, middle, ordinal)


def above_all(highest: jax.Array) -> jax.Array:
    """A threshold that predicts nothing: the next float above the highest score (in the
    order of the floats, subnormals included), so that float64 scores that round to
    ``highest`` are not above it either; ``-inf`` (no score) stays ``-inf``."""
    return jnp.where(jnp.isneginf(highest), highest, from_order_keys(order_keys(highest) + 1))
