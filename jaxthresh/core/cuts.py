"""The order of the scores, for the exact searches: sorted keys, counts at any threshold,
and the few cuts worth trying.

**Order keys.** Every score is compared through an ``int32`` key in the order of the
float32 values (:func:`order_keys`): keys are exact where XLA's float comparisons are not
(XLA on CPU treats subnormal floats as zero), and integers sort fastest.

**Sorted keys** (:class:`SortedKeys`): per column, the keys of the rows of weight > 0 in
descending score order, padding after them (:data:`SENTINEL`), and the same for the
positive rows alone. With them, the counts of ``scores > t`` at any threshold are two
binary searches (:func:`counts_above`). The sort is the costliest step: on CPU it is
NumPy's, in one ``jax.pure_callback`` per block (:func:`sort_kept_and_positive`), which
sorts ``int32`` rows several times faster than XLA's CPU sort and also finds where each
positive key ends among all keys with one binary search per real positive row (XLA would
search every padded slot); elsewhere ``jnp.sort`` and ``searchsorted``. Each callback
copies its operands and results once (about 20 ms per 43 MB on CPU in JAX 0.10), which is
why there is one per block, not one per sort. Columns are sorted in blocks
(a ``lax.map``), so that only one block's temporaries are alive at a time. Rows with int or
float weights carry their weights through the sort (:func:`sort_with`: NumPy's
argsort on CPU, ``lax.sort`` with a payload elsewhere) and add running totals.

**Candidates** (:class:`Candidates`): F-beta, micro or macro, for any beta and any row
weights, never improves by predicting more rows unless a positive row is among them:
lowering a threshold past negative rows only raises the predicted count. So a column's
best cut is "predict nothing" or the cut just below one of its distinct positive scores,
and the exact searches look at those alone, at most one per positive row: ``[columns, M]``
with ``M`` the static bound :attr:`jaxthresh.core.validation.Rows.positive_slots`, not
``[columns, n]``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec

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


def kept_keys(scores: jax.Array, kept: jax.Array) -> jax.Array:
    """:func:`descending_keys` of the ``kept`` entries of ``scores`` (bool, broadcast),
    :data:`SENTINEL` for the others (they sort after every kept one)."""
    return jnp.where(kept, descending_keys(scores), SENTINEL)


def _scores_of(keys: jax.Array) -> jax.Array:
    """Inverse of :func:`descending_keys`."""
    return from_order_keys(-keys)


def highest_of(values: jax.Array, axis: int = 1, where: jax.Array | None = None) -> jax.Array:
    """The highest of float32 ``values`` along ``axis`` (over the entries where ``where``,
    broadcast, is True; ``-inf`` if none), exactly, subnormals included.

    XLA on CPU compares subnormals as zero, so a float ``max`` is exact wherever it is a
    normal number or infinite (a normal maximum is above every subnormal and zero; a
    normal negative one means there were none). Only if some maximum is zero or
    subnormal is the exact maximum taken on :func:`order_keys` (an integer reduction,
    about ten times slower than the float one on CPU), in a ``lax.cond`` that takes
    ``values`` and ``where`` as they are (nothing is written out for it)."""
    return _extreme_of(values, axis, where, highest=True)


def lowest_of(values: jax.Array, axis: int = 1, where: jax.Array | None = None) -> jax.Array:
    """The lowest of float32 ``values``, as :func:`highest_of` (``inf`` if none)."""
    return _extreme_of(values, axis, where, highest=False)


def _extreme_of(values, axis, where, *, highest: bool):
    reduce, fill = (jnp.max, -jnp.inf) if highest else (jnp.min, jnp.inf)

    def masked(values, where):
        values = jnp.asarray(values, jnp.float32)
        return values if where is None else jnp.where(where, values, fill)

    fast = reduce(masked(values, where), axis=axis)

    def exact(values, where):
        return from_order_keys(reduce(order_keys(masked(values, where)), axis=axis))

    uncertain = jnp.any(jnp.abs(fast) < jnp.finfo(jnp.float32).tiny)
    return jax.lax.cond(uncertain, exact, lambda *_: fast, values, where)


def _numpy_sorted_keys(
    keys: np.ndarray, positive: np.ndarray, slots: int
) -> tuple[np.ndarray, np.ndarray]:
    """Host side of :func:`sort_kept_and_positive` on CPU."""
    keys, positive = np.asarray(keys), np.asarray(positive, bool)
    positive_keys = np.where(positive, keys, np.int32(SENTINEL))
    positive_keys.sort(axis=-1)
    return np.sort(keys, axis=-1), np.ascontiguousarray(positive_keys[..., :slots])


def sort_kept_and_positive(
    keys: jax.Array, positive: jax.Array, slots: int, variant: str | None = None
) -> tuple[jax.Array, jax.Array]:
    """``(sorted keys, sorted positive keys)`` of int32 ``keys [rows, m]`` (left out entries
    already :data:`SENTINEL`) and bool ``positive [rows, m]``: each row ascending, and the
    positive entries' keys ascending in ``slots`` slots (:data:`SENTINEL` after them). On
    CPU both sorts in one NumPy callback (NumPy sorts ``int32`` rows several times faster
    than XLA's CPU sort); elsewhere ``jnp.sort``."""

    def cpu(keys, positive):
        shapes = (
            jax.ShapeDtypeStruct(keys.shape, jnp.int32),
            jax.ShapeDtypeStruct((*keys.shape[:-1], slots), jnp.int32),
        )
        host = functools.partial(_numpy_sorted_keys, slots=slots)
        return jax.pure_callback(host, shapes, keys, positive, vmap_method="sequential")

    def generic(keys, positive):
        positive_keys = jnp.sort(jnp.where(positive, keys, SENTINEL), axis=-1)[..., :slots]
        return jnp.sort(keys, axis=-1), positive_keys

    return batching.by_platform(variant, cpu=cpu, generic=generic)(keys, positive)


def _numpy_sort_with(keys: np.ndarray, *payloads: np.ndarray) -> tuple[np.ndarray, ...]:
    """Host side of :func:`sort_with` on CPU."""
    keys = np.asarray(keys)
    order = np.argsort(keys, axis=-1)
    return tuple(np.take_along_axis(np.asarray(a), order, axis=-1) for a in (keys, *payloads))


def sort_with(keys: jax.Array, payloads: tuple, variant: str | None = None) -> tuple:
    """``(keys, *payloads)`` with each row of int32 ``keys [rows, m]`` ascending and the
    payloads (arrays of the same shape) alongside; equal keys come in any order. On CPU one
    NumPy callback (XLA's CPU sort with a payload is about ten times slower than NumPy's
    argsort); elsewhere ``lax.sort``."""

    def cpu(keys, *payloads):
        shapes = tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in (keys, *payloads))
        return jax.pure_callback(
            _numpy_sort_with, shapes, keys, *payloads, vmap_method="sequential"
        )

    def generic(keys, *payloads):
        return jax.lax.sort((keys, *payloads), num_keys=1)

    return tuple(batching.by_platform(variant, cpu=cpu, generic=generic)(keys, *payloads))


def _numpy_cut_keys(
    keys: np.ndarray, positive: np.ndarray, slots: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Host side of :func:`cut_keys` on CPU: one sort of each row, then per row its few
    positive keys (sorted) and one binary search each; only ``[rows, slots]`` go back."""
    keys, positive = np.asarray(keys), np.asarray(positive, bool)
    rows, width = keys.shape
    everyone = np.sort(keys, axis=-1)
    positive_keys = np.full((rows, slots), SENTINEL, np.int32)
    ends = np.full((rows, slots), width, np.int32)
    below = np.full((rows, slots), SENTINEL, np.int32)
    for row in range(rows):
        own = np.sort(keys[row][positive[row]])
        count = own.size
        if count:
            end = np.searchsorted(everyone[row], own, "right").astype(np.int32)
            positive_keys[row, :count], ends[row, :count] = own, end
            below[row, :count] = np.where(
                end < width, everyone[row][np.minimum(end, width - 1)], SENTINEL
            )
    highest = everyone[:, 0] if width else np.full(rows, SENTINEL, np.int32)
    return positive_keys, ends, below, np.ascontiguousarray(highest)


def cut_keys(
    keys: jax.Array, positive: jax.Array, slots: int, variant: str | None = None
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """What the candidate cuts of rows of weight 0 or 1 need, from int32 ``keys [rows, m]``
    (left out entries already :data:`SENTINEL`) and bool ``positive [rows, m]``: each row's
    positive keys ascending in ``slots`` slots; for each, the number of keys at or before
    it (``ends``) and the key just after those (``below``, :data:`SENTINEL` if none); and
    each row's first key (``highest``). On CPU one NumPy callback that returns only these
    ``[rows, slots]`` arrays (the sorted keys of every row stay on the host, and the
    binary searches run for the real positives only, not for padded slots); elsewhere
    ``jnp.sort``, ``searchsorted`` and a gather."""

    def cpu(keys, positive):
        shape = (*keys.shape[:-1], slots)
        shapes = (
            jax.ShapeDtypeStruct(shape, jnp.int32),
            jax.ShapeDtypeStruct(shape, jnp.int32),
            jax.ShapeDtypeStruct(shape, jnp.int32),
            jax.ShapeDtypeStruct(keys.shape[:-1], jnp.int32),
        )
        host = functools.partial(_numpy_cut_keys, slots=slots)
        return jax.pure_callback(host, shapes, keys, positive, vmap_method="sequential")

    def generic(keys, positive):
        everyone, positive_keys = sort_kept_and_positive(keys, positive, slots, "generic")
        return (positive_keys, *_ends_and_below(everyone, positive_keys), everyone[:, 0])

    return batching.by_platform(variant, cpu=cpu, generic=generic)(keys, positive)


def _ends_and_below(everyone: jax.Array, positive_keys: jax.Array) -> tuple[jax.Array, ...]:
    """For each positive key, the number of keys of its row at or before it and the key
    just after those (:data:`SENTINEL` if none)."""
    width = everyone.shape[1]
    ends = searchsorted_rows(everyone, positive_keys, "right")
    below = jnp.take_along_axis(everyone, jnp.minimum(ends, width - 1), axis=1)
    return ends, jnp.where(ends < width, below, SENTINEL)


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
    blocks of at most about :data:`BLOCK_KEYS` keys, as even as can be (the last block ends
    at the last column, overlapping the one before where the columns do not divide)."""
    most = max(1, min(columns, BLOCK_KEYS // max(rows, 1)))
    blocks = -(-columns // most)
    return blocks, -(-columns // blocks)


def map_column_blocks(function, arrays: tuple):
    """``function`` over the columns of ``[n, columns]`` ``arrays``: on rows on one device,
    :func:`map_local_column_blocks`; on rows split over several devices
    (:func:`jaxthresh.core.batching.sharded_rows`), by :func:`map_traded_column_blocks`."""
    if batching.sharded_rows() is None:
        return map_local_column_blocks(function, arrays)
    return map_traded_column_blocks(function, arrays)


def map_traded_column_blocks(function, arrays: tuple):
    """:func:`map_local_column_blocks` of ``arrays`` whose rows are split over the devices
    of the current mesh: a loop (under ``shard_map``) over groups of ``devices x width``
    columns, in which each device trades its rows of the group's columns for every row
    of ``width`` of them (one all-to-all per array), and gives those to ``function``
    (transposed, ``[width, n]``); the outputs are split over the devices by column. Only
    one group's traded blocks are alive at a time, so a device holds about its own rows
    and one block of ``width`` columns. Where the columns are fewer than one group, they
    are padded with zeros, which ``function`` must treat as left out (zero weight); else
    the last group ends at the last column (its columns before that are computed twice)."""
    devices = batching.sharded_rows()
    n, columns = arrays[0].shape
    if n % devices:
        raise ValueError(f"rows: {n} rows do not split over {devices} devices; use shard_rows")
    _, width = class_blocks(-(-columns // devices), n)
    span = width * devices  # the columns of one group
    if columns < span:
        arrays = tuple(jnp.pad(a, ((0, 0), (0, span - columns))) for a in arrays)
    total = max(columns, span)
    groups = -(-total // span)
    starts = np.minimum(np.arange(groups) * span, total - span)

    def by_columns(*arrays):
        def group(start):
            traded = tuple(
                jax.lax.all_to_all(
                    _tradable(jax.lax.dynamic_slice_in_dim(a, start, span, 1)),
                    batching.ROWS,
                    1,
                    0,
                    tiled=True,
                ).astype(a.dtype)
                for a in arrays
            )  # [every row, this device's width columns of the group]
            return function(tuple(a.T for a in traded))

        return jax.lax.map(group, jnp.asarray(starts, jnp.int32))

    out = jax.shard_map(
        by_columns,
        in_specs=PartitionSpec(batching.ROWS, None),
        out_specs=PartitionSpec(batching.ROWS),
    )(*arrays)  # [devices * groups, width, ...]: device d, group g, its column j
    column = np.arange(columns)
    group_of = np.minimum(column // span, groups - 1)
    offset = column - starts[group_of]
    device, within = offset // width, offset % width
    return jax.tree.map(lambda a: a[device * groups + group_of, within], out)


def _tradable(array: jax.Array) -> jax.Array:
    """bool arrays as uint8 for collectives (gloo carries no bool)."""
    return array.astype(jnp.uint8) if array.dtype == jnp.bool_ else array


def map_local_column_blocks(function, arrays: tuple):
    """``function`` over blocks of the columns of ``[n, columns]`` ``arrays`` (a
    ``lax.map``: one block's temporaries at a time), each array given to it as its block
    transposed, ``[columns per block, n]``, sliced and transposed inside the loop (so that
    no transposed copy of a whole array is made); its outputs (``[columns per block, ...]``
    each, a pytree) come back as ``[columns, ...]``. The last block ends at the last column
    and may overlap the one before it (those columns are computed twice, rather than the
    arrays padded)."""
    n, columns = arrays[0].shape
    blocks, per_block = class_blocks(columns, n)
    starts = np.minimum(np.arange(blocks) * per_block, columns - per_block)

    def block(start):
        return function(
            tuple(jax.lax.dynamic_slice_in_dim(a, start, per_block, axis=1).T for a in arrays)
        )

    out = jax.lax.map(block, jnp.asarray(starts, jnp.int32))
    column = np.arange(columns)
    which = np.minimum(column // per_block, blocks - 1)
    offset = column - starts[which]
    return jax.tree.map(lambda a: a[which, offset], out)


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
    weights = jnp.asarray(weights)
    if weights.ndim == 1:
        weights = weights[:, None]
    if weights.dtype == jnp.bool_:
        kept = jnp.broadcast_to(weights, scores.shape)

        def sort_block(block):
            scores, kept, labels = block
            keys = kept_keys(scores, kept)
            return sort_kept_and_positive(keys, kept & labels, slots, variant)

        everyone, positive = map_column_blocks(sort_block, (scores, kept, labels))
        cumulative = positive_cumulative = None
    else:
        weights = jnp.broadcast_to(weights.astype(count_dtype(weights.dtype)), scores.shape)

        def sort_block(block):
            scores, weights, labels = block
            keys = kept_keys(scores, weights > 0)
            everyone, everyone_weights = sort_with(keys, (weights,), variant)
            positive_keys = jnp.where(labels, keys, SENTINEL)
            positive_weights = jnp.where(labels, weights, 0)
            positive, positive_weights = sort_with(positive_keys, (positive_weights,), variant)
            return (
                everyone,
                positive[:, :slots],
                jnp.cumsum(everyone_weights, axis=1),
                jnp.cumsum(positive_weights[:, :slots], axis=1),
            )

        everyone, positive, cumulative, positive_cumulative = map_column_blocks(
            sort_block, (scores, weights, labels)
        )
    return SortedKeys(everyone, positive, cumulative, positive_cumulative)


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


def total_weight(sorted: SortedKeys) -> jax.Array:
    """The weight of each column's rows."""
    if sorted.cumulative is None:
        return jnp.sum(sorted.keys != SENTINEL, axis=1, dtype=jnp.int32)
    return sorted.cumulative[:, -1]


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
    total = jnp.broadcast_to(total_weight(sorted)[:, None], predicted.shape)
    counts = Counts.of(true_positives, predicted, positives, total)
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
      total: the weight of all of its rows.
    """

    upper: jax.Array
    lower: jax.Array
    true_positives: jax.Array
    predicted: jax.Array
    valid: jax.Array
    highest: jax.Array
    positives: jax.Array
    total: jax.Array

    def counts(self) -> Counts:
        """The :class:`jaxthresh.Counts` of every cut, ``[M, columns]`` (columns last, as
        objectives take them)."""
        shape = self.true_positives.T.shape
        return Counts.of(
            self.true_positives.T,
            self.predicted.T,
            jnp.broadcast_to(self.positives, shape),
            jnp.broadcast_to(self.total, shape),
        )

    def nothing(self) -> Counts:
        """The counts of predicting nothing, ``[columns]``."""
        zero = jnp.zeros_like(self.positives)
        return Counts.of(zero, zero, self.positives, self.total)


def score_of_keys(keys: jax.Array) -> jax.Array:
    """The score of :func:`descending_keys` ``keys``, ``-inf`` for :data:`SENTINEL`."""
    return jnp.where(keys == SENTINEL, -jnp.inf, _scores_of(keys))


def candidates(sorted: SortedKeys) -> Candidates:
    """The cuts just below each distinct positive score of each column: the only ones an
    exact search of F-beta needs besides predicting nothing (see the module docstring)."""
    positive = sorted.positive_keys
    valid = last_of_runs(positive)  # the last of equal scores
    slots = jnp.broadcast_to(jnp.arange(1, positive.shape[1] + 1, dtype=jnp.int32), positive.shape)
    true_positives = slots if sorted.positive_cumulative is None else sorted.positive_cumulative
    # Every row whose key is at most this one's (a score at least as high) is predicted.
    end, below = _ends_and_below(sorted.keys, positive)
    return Candidates(
        upper=score_of_keys(positive),
        lower=score_of_keys(below),
        true_positives=true_positives,
        predicted=weight_before(end, sorted.cumulative),
        valid=valid,
        highest=score_of_keys(sorted.keys[:, 0]),
        positives=positive_weight(sorted),
        total=total_weight(sorted),
    )


def every_cut(sorted: SortedKeys) -> Candidates:
    """The cuts just below each distinct score of each column (``[columns, m]``): what an
    exact search needs of an objective that predicting more negatives can raise (MCC, a
    utility, a custom one), where :func:`candidates` would miss cuts."""
    keys = sorted.keys
    valid = last_of_runs(keys)
    slot = jnp.broadcast_to(jnp.arange(1, keys.shape[1] + 1, dtype=jnp.int32), keys.shape)
    following = jnp.concatenate([keys[:, 1:], jnp.full_like(keys[:, :1], SENTINEL)], 1)
    true_positives = weight_before(
        searchsorted_rows(sorted.positive_keys, keys, "right"), sorted.positive_cumulative
    )
    return Candidates(
        upper=score_of_keys(keys),
        lower=score_of_keys(following),
        true_positives=true_positives,
        predicted=weight_before(slot, sorted.cumulative),
        valid=valid,
        highest=score_of_keys(keys[:, 0]),
        positives=positive_weight(sorted),
        total=total_weight(sorted),
    )


def thresholds_at(cuts: Candidates, cut: jax.Array, take: jax.Array) -> jax.Array:
    """float32[columns]: each column's threshold at its cut ``cut`` (int32[columns], an index
    into its candidates) where ``take`` (bool[columns]), else one that predicts nothing."""
    columns = jnp.arange(cut.shape[0])
    threshold = threshold_between(cuts.upper[columns, cut], cuts.lower[columns, cut])
    return jnp.where(take, threshold, above_all(cuts.highest))


def last_of_runs(keys: jax.Array) -> jax.Array:
    """bool, the shape of ``keys [rows, m]`` (sorted along each row): the slots that hold a
    key (not :data:`SENTINEL`) different from the next, the last of each run of equal keys."""
    following = jnp.concatenate([keys[:, 1:], jnp.full_like(keys[:, :1], SENTINEL)], 1)
    return (keys != SENTINEL) & (keys != following)


def kept_candidates(
    scores: jax.Array,
    labels: jax.Array,
    kept: jax.Array,
    *,
    slots: int,
    variant: str | None = None,
) -> Candidates:
    """:func:`candidates` of rows that weigh 0 or 1, without the sorted keys of every row
    (:func:`cut_keys`): what the exact searches of unweighted rows and their folds use.

    Args:
      scores: float32[n, columns].
      labels: bool[n, columns].
      kept: bool ``[n]`` or ``[n, columns]``: the rows that count.
      slots: ``M``, at least the number of kept positive rows of any column.
      variant: "cpu" or "generic" (None: by backend).
    """
    kept = jnp.broadcast_to(kept if kept.ndim == 2 else kept[:, None], scores.shape)

    def block_cuts(block):
        scores, kept, labels = block
        keys = kept_keys(scores, kept)
        return cut_keys(keys, kept & labels, slots, variant)

    positive, end, below, highest = map_column_blocks(block_cuts, (scores, kept, labels))
    slot = jnp.broadcast_to(jnp.arange(1, positive.shape[1] + 1, dtype=jnp.int32), positive.shape)
    return Candidates(
        upper=score_of_keys(positive),
        lower=score_of_keys(below),
        true_positives=slot,
        predicted=end,
        valid=last_of_runs(positive),
        highest=score_of_keys(highest),
        positives=jnp.sum(positive != SENTINEL, axis=1, dtype=jnp.int32),
        total=jnp.sum(kept, axis=0, dtype=jnp.int32),
    )


def candidates_of(
    scores: jax.Array,
    labels: jax.Array,
    weights: jax.Array,
    *,
    slots: int,
    every: bool = False,
    variant: str | None = None,
) -> Candidates:
    """The candidate cuts of weighted rows (arguments as :func:`sorted_keys`): by
    :func:`kept_candidates` where every row weighs 0 or 1 (bool weights: unweighted fits
    and their folds), else :func:`candidates` of the weighted :func:`sorted_keys`; with
    ``every`` (static), :func:`every_cut` (a cut below every distinct score)."""
    if every:
        return every_cut(sorted_keys(scores, labels, weights, slots=slots, variant=variant))
    if jnp.asarray(weights).dtype == jnp.bool_:
        return kept_candidates(scores, labels, weights, slots=slots, variant=variant)
    return candidates(sorted_keys(scores, labels, weights, slots=slots, variant=variant))


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
    ``highest`` are not above it either. Where no row counts (``highest`` is ``-inf``),
    float32's largest number, above every score the checks accept."""
    largest = jnp.finfo(jnp.float32).max
    above = from_order_keys(order_keys(highest) + 1)
    return jnp.where(jnp.isneginf(highest), largest, jnp.minimum(above, largest))
