"""The order of the scores, for the exact searches: sorted keys, counts at any threshold,
and the few cuts worth trying.

**Order keys.** Every score is compared through an ``int32`` key in the order of the
float32 values (:func:`order_keys`): keys are exact where XLA's float comparisons are not
(XLA on CPU treats subnormal floats as zero), and integers sort fastest.

**Sorted keys** (:class:`SortedKeys`): per column, the keys of the rows of weight > 0 in
descending score order, padding after them (:data:`SENTINEL`), and the same for the
positive rows alone. With them, the counts of ``scores > t`` at any threshold are two
binary searches (:func:`counts_above`). The sort is the costliest step: on CPU it is
NumPy's (``jax.pure_callback``), which sorts ``int32`` rows several times faster than
XLA's CPU sort; elsewhere ``jnp.sort`` (:func:`sort_rows`). Columns are sorted in blocks
(a ``lax.map``), so that only one block's temporaries are alive at a time. Rows with int or
float weights carry their weights through the sort (``lax.sort`` with a payload) and add
running totals.

**Candidates** (:class:`Candidates`): F-beta, micro or macro, for any beta and any row
weights, never improves by predicting more rows unless a positive row is among them:
lowering a threshold past negative rows only raises the predicted count. So a column's
best cut is "predict nothing" or the cut just below one of its distinct positive scores,
and the exact searches look at those alone, at most one per positive row: ``[columns, M]``
with ``M`` the static bound :attr:`jaxthresh.core.validation.Rows.positive_slots`, not
``[columns, n]``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh.core import batching
from jaxthresh.core.metrics import Counts, count_dtype

#: The key of a slot without a kept row: after every real key (real keys are within
#: +-2139095040, the keys of -inf and inf).
SENTINEL = 2**31 - 1

#: Sorts process blocks of about this many keys at a time.
BLOCK_KEYS = 1 << 21


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


def highest_of(values: jax.Array, axis: int = 1) -> jax.Array:
    """The highest of float32 ``values`` along ``axis``, exactly (on order keys: XLA's
    ``max`` would compare subnormals as zero)."""
    return from_order_keys(jnp.max(order_keys(values), axis=axis))


def _numpy_sort(keys: np.ndarray) -> np.ndarray:
    """Host side of :func:`sort_rows` on CPU: each row sorted, in a copy."""
    out = np.array(keys, dtype=np.int32, copy=True)
    out.sort(axis=-1)
    return out


def sort_rows(keys: jax.Array, variant: str | None = None) -> jax.Array:
    """int32 ``keys [rows, m]`` with each row sorted ascending: NumPy's sort through a
    callback on CPU (several times faster than XLA's there), ``jnp.sort`` elsewhere."""

    def cpu(keys):
        shape = jax.ShapeDtypeStruct(keys.shape, jnp.int32)
        return jax.pure_callback(_numpy_sort, shape, keys, vmap_method="sequential")

    def generic(keys):
        return jnp.sort(keys, axis=-1)

    return batching.by_platform(variant, cpu=cpu, generic=generic)(keys)


class SortedKeys(NamedTuple):
    """Each column's rows of weight > 0 in descending score order, as keys.

    Attributes:
      keys: int32[columns, m], :func:`descending_keys` of the kept rows, ascending, then
        :data:`SENTINEL`.
      positive_keys: int32[columns, M], the same for the kept positive rows (``M`` slots at
        least as many as the positive rows of any column).
      cumulative: ``[columns, m]``, the running total of the rows' weights in that order,
        or None where every kept row weighs 1 (bool weights).
      positive_cumulative: ``[columns, M]``, the same for the positive rows, or None.
    """

    keys: jax.Array
    positive_keys: jax.Array
    cumulative: jax.Array | None
    positive_cumulative: jax.Array | None


def class_blocks(columns: int, rows: int) -> tuple[int, int]:
    """``(blocks, columns per block)`` for sorting ``columns`` columns of ``rows`` keys:
    blocks of at most about :data:`BLOCK_KEYS` keys, as even as can be (the last block is
    padded to the others' size)."""
    most = max(1, min(columns, BLOCK_KEYS // max(rows, 1)))
    blocks = -(-columns // most)
    return blocks, -(-columns // blocks)


def sorted_keys(
    scores: jax.Array,
    labels: jax.Array,
    weights: jax.Array,
    *,
    slots: int,
    variant: str | None = None,
) -> SortedKeys:
    """:class:`SortedKeys` of each column of ``scores``.

    Args:
      scores: float32[n, columns].
      labels: bool[n, columns].
      weights: ``[n]`` row weights (bool, int32 or float32; weight 0 drops a row), or
        ``[n, columns]`` weights of each score.
      slots: ``M``, at least the number of positive rows of weight > 0 of any column.
      variant: the sort, "cpu" or "generic" (None: by backend).
    """
    n, columns = scores.shape
    weights = jnp.asarray(weights)
    if weights.ndim == 1:
        weights = weights[:, None]
    blocks, per_block = class_blocks(columns, n)
    padding = blocks * per_block - columns

    def by_block(array, fill):
        padded = jnp.pad(array.T, ((0, padding), (0, 0)), constant_values=fill)
        return padded.reshape(blocks, per_block, n)

    keys = descending_keys(scores)
    if weights.dtype == jnp.bool_:
        kept = jnp.broadcast_to(weights, scores.shape)

        def sort_block(block):
            keys, kept, labels = block
            everyone = sort_rows(jnp.where(kept, keys, SENTINEL), variant)
            positive = sort_rows(jnp.where(kept & labels, keys, SENTINEL), variant)
            return everyone, positive[:, :slots]

        everyone, positive = jax.lax.map(
            sort_block, (by_block(keys, SENTINEL), by_block(kept, False), by_block(labels, False))
        )
        cumulative = positive_cumulative = None
    else:
        weights = jnp.broadcast_to(weights.astype(count_dtype(weights.dtype)), scores.shape)

        def sort_block(block):
            keys, weights, labels = block
            keys = jnp.where(weights > 0, keys, SENTINEL)
            everyone, everyone_weights = jax.lax.sort((keys, weights), num_keys=1)
            positive_keys = jnp.where(labels, keys, SENTINEL)
            positive_weights = jnp.where(labels, weights, 0)
            positive, positive_weights = jax.lax.sort((positive_keys, positive_weights), num_keys=1)
            return (
                everyone,
                positive[:, :slots],
                jnp.cumsum(everyone_weights, axis=1),
                jnp.cumsum(positive_weights[:, :slots], axis=1),
            )

        everyone, positive, cumulative, positive_cumulative = jax.lax.map(
            sort_block, (by_block(keys, SENTINEL), by_block(weights, 0), by_block(labels, False))
        )

    def columns_of(array):
        return None if array is None else array.reshape(blocks * per_block, -1)[:columns]

    return SortedKeys(
        *(columns_of(a) for a in (everyone, positive, cumulative, positive_cumulative))
    )


def searchsorted_rows(sorted_rows: jax.Array, queries: jax.Array, side: str) -> jax.Array:
    """``searchsorted`` of each row's queries in that row: ``[columns, m]``, ``[columns,
    q]`` -> int32[columns, q]."""
    return jax.vmap(lambda row, query: jnp.searchsorted(row, query, side=side, method="scan"))(
        sorted_rows, queries
    ).astype(jnp.int32)


def weight_before(index: jax.Array, cumulative: jax.Array | None) -> jax.Array:
    """The weight of the first ``index`` slots of each row: ``index`` itself where every
    kept row weighs 1, else the running total at ``index - 1`` (0 for ``index`` 0)."""
    if cumulative is None:
        return index
    taken = jnp.take_along_axis(cumulative, jnp.maximum(index - 1, 0), axis=1)
    return jnp.where(index > 0, taken, 0)


def positive_weight(sorted: SortedKeys) -> jax.Array:
    """The weight of each column's positive rows."""
    if sorted.positive_cumulative is None:
        return jnp.sum(sorted.positive_keys != SENTINEL, axis=1, dtype=jnp.int32)
    return sorted.positive_cumulative[:, -1]


def counts_above(sorted: SortedKeys, thresholds: jax.Array) -> Counts:
    """Exact weighted counts of ``scores > thresholds`` in each column, by binary search.

    Args:
      sorted: :class:`SortedKeys` of ``[columns]`` columns.
      thresholds: float32[columns] (or ``[columns, q]``, q thresholds per column).

    Returns:
      :class:`jaxthresh.Counts` of ``[columns]`` (or ``[columns, q]``).
    """
    thresholds = jnp.asarray(thresholds, jnp.float32)
    single = thresholds.ndim == 1
    queries = descending_keys(thresholds[:, None] if single else thresholds)
    # Scores above t are exactly those whose key is below key(t).
    predicted = weight_before(searchsorted_rows(sorted.keys, queries, "left"), sorted.cumulative)
    true_positives = weight_before(
        searchsorted_rows(sorted.positive_keys, queries, "left"), sorted.positive_cumulative
    )
    positives = jnp.broadcast_to(positive_weight(sorted)[:, None], predicted.shape)
    counts = Counts(true_positives, predicted, positives)
    return Counts(*(c[:, 0] for c in counts)) if single else counts


class Candidates(NamedTuple):
    """The cuts an exact search tries, per column (fields ``[columns, M]``; ``highest`` and
    ``positives`` ``[columns]``).

    Attributes:
      upper: float32, the lowest score the cut predicts.
      lower: float32, the highest score of weight > 0 below it (``-inf`` if none); a
        threshold in ``[lower, upper)`` makes the cut.
      true_positives: the weight of the positive rows the cut predicts.
      predicted: the weight of the rows it predicts.
      valid: bool, a cut that exists (slots past a column's candidates are not).
      highest: float32, the highest score of weight > 0 (``-inf`` if none): a threshold
        above it predicts nothing.
      positives: the weight of the column's positive rows.
    """

    upper: jax.Array
    lower: jax.Array
    true_positives: jax.Array
    predicted: jax.Array
    valid: jax.Array
    highest: jax.Array
    positives: jax.Array


def score_of_keys(keys: jax.Array) -> jax.Array:
    """The score of :func:`descending_keys` ``keys``, ``-inf`` for :data:`SENTINEL`."""
    return jnp.where(keys == SENTINEL, -jnp.inf, _scores_of(keys))


def candidates(sorted: SortedKeys) -> Candidates:
    """The cuts just below each distinct positive score of each column: the only ones an
    exact search of F-beta needs besides predicting nothing (see the module docstring)."""
    positive = sorted.positive_keys
    following = jnp.concatenate([positive[:, 1:], jnp.full_like(positive[:, :1], SENTINEL)], 1)
    valid = (positive != SENTINEL) & (positive != following)  # the last of equal scores
    slots = jnp.broadcast_to(jnp.arange(1, positive.shape[1] + 1, dtype=jnp.int32), positive.shape)
    true_positives = slots if sorted.positive_cumulative is None else sorted.positive_cumulative
    # Every row whose key is at most this one's (a score at least as high) is predicted.
    end = searchsorted_rows(sorted.keys, positive, "right")
    predicted = weight_before(end, sorted.cumulative)
    below = jnp.take_along_axis(sorted.keys, jnp.minimum(end, sorted.keys.shape[1] - 1), axis=1)
    below = jnp.where(end < sorted.keys.shape[1], below, SENTINEL)
    return Candidates(
        upper=score_of_keys(positive),
        lower=score_of_keys(below),
        true_positives=true_positives,
        predicted=predicted,
        valid=valid,
        highest=score_of_keys(sorted.keys[:, 0]),
        positives=positive_weight(sorted),
    )


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
