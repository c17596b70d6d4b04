"""Per-class score histograms on equal cells: fits whose epochs cost O(classes x bins).

Each class's score range ``[low, high]`` (over the rows that count) is cut into ``bins``
equal cells; one pass over the rows counts, per class and cell, all rows and positive rows
(exact ``int32``). Cell ``k`` holds the scores in ``(edge_k, edge_k+1]`` (cell 0 also holds
``low``), and every edge is computed one way (:func:`cell_edges`), for placing rows and
thresholds alike. So a threshold on an edge separates exactly the rows of the cells below
it from those above: ``fit_exact`` and ``fit_numerical`` (``bins=``) look counts up in the
cuts between cells (:func:`histogram_candidates`, :func:`histogram_sorted_keys`), and the
counts, scores and thresholds they report hold on the rows themselves. ``fit_sgl``
(``bins=``) puts a cell's rows at its centre (:func:`cell_centres`). Rows in one cell, of
width ``(high - low) / bins``, are never separated: that is the only approximation. The
same tables are built chunk by chunk from data larger than memory by
:mod:`jaxthresh.streaming`, and histograms of parts of the rows on the same cells add up
(:func:`merge_histograms`: rows spread over files, hosts or processes).

Counts are int32 for rows of bool or int weights, float32 sums for float weights.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec

from jaxthresh.core import batching, validation
from jaxthresh.core.cuts import (
    BLOCK_KEYS,
    Candidates,
    SortedKeys,
    descending_keys,
    from_order_keys,
    highest_of,
    order_keys,
)
from jaxthresh.core.metrics import count_dtype
from jaxthresh.core.validation import Rows


class Histogram(NamedTuple):
    """Per-class histograms on equal cells: cell ``k`` of class ``c`` holds the scores in
    ``(edge_k, edge_k+1]`` with ``edge_k = low[c] + k * width[c]`` (:func:`cell_edges`);
    cell 0 also holds ``low[c]``.

    Attributes:
      low: float32[classes], the lower edge of cell 0.
      width: float32[classes], the cells' width (> 0).
      counts: ``[classes, cells]``, the weight of the rows in each cell (int32, or
        float32 for float row weights).
      positives: ``[classes, cells]``, the weight of the positive rows in each cell.
      high: float32[classes], the highest score counted (``-inf`` if none): a threshold
        at or above it predicts nothing.
    """

    low: jax.Array
    width: jax.Array
    counts: jax.Array
    positives: jax.Array
    high: jax.Array


def cells_of(low: jax.Array, high: jax.Array, cells: int) -> tuple[jax.Array, jax.Array]:
    """``(low, width)``, float32[classes], of ``cells`` equal cells spanning ``[low, high]``
    (computed in halves, so that no span of finite float32 scores overflows). A class with
    one distinct score, or none (``low`` infinite), gets a width too small to move off it."""
    finite = jnp.isfinite(low) & jnp.isfinite(high)
    low = jnp.where(finite, low, 0.0).astype(jnp.float32)
    high = jnp.where(finite, high, low).astype(jnp.float32)
    half_span = high / 2 - low / 2
    tiny = jnp.maximum(jnp.abs(low), jnp.finfo(jnp.float32).tiny) * 2.0**-30
    width = jnp.where(half_span > 0, (half_span / cells) * 2, tiny)
    return low, width.astype(jnp.float32)


def cell_edges(low: jax.Array, width: jax.Array, index: jax.Array) -> jax.Array:
    """``low + index * width``, the lower edge of cell ``index`` (broadcasting), computed
    in halves so that it cannot overflow; the one formula for rows and thresholds."""
    return 2 * (low / 2 + index * (width / 2))


def cell_of(scores: jax.Array, low: jax.Array, width: jax.Array, cells: int) -> jax.Array:
    """int32 cell of each score: ``k`` where ``edge_k < score <= edge_k+1`` by
    :func:`cell_edges` (an estimate from one division, corrected by the two edges)."""
    estimate = jnp.floor((scores / 2 - low / 2) / (width / 2))
    cell = jnp.clip(estimate, 0, cells - 1)
    cell = jnp.where((cell > 0) & (scores <= cell_edges(low, width, cell)), cell - 1, cell)
    above = (cell < cells - 1) & (scores > cell_edges(low, width, cell + 1))
    return jnp.where(above, cell + 1, cell).astype(jnp.int32)


def cell_counts(
    scores: jax.Array,
    labels: jax.Array,
    weights: jax.Array | None,
    low: jax.Array,
    width: jax.Array,
    *,
    cells: int,
) -> tuple[jax.Array, jax.Array]:
    """The ``(counts, positives)`` tables, ``[classes, cells]``, of some rows.

    Args:
      scores: float32[rows, classes], finite.
      labels: bool[rows, classes].
      weights: row weights ``[rows]`` or per-label ``[rows, classes]`` (bool, int or
        float), or None for weight 1.
      low, width: float32[classes], the cells.
      cells: cells per class (static).
    """
    classes = scores.shape[1]
    cell = cell_of(scores, low, width, cells)
    index = cell + cells * jnp.arange(classes, dtype=jnp.int32) + classes * cells * labels
    if weights is None:
        table = jnp.zeros(2 * classes * cells, jnp.int32).at[index.ravel()].add(1, mode="drop")
    else:
        dtype = count_dtype(weights.dtype)
        values = jnp.broadcast_to(validation.element_shaped(weights.astype(dtype)), scores.shape)
        table = (
            jnp.zeros(2 * classes * cells, dtype).at[index.ravel()].add(values.ravel(), mode="drop")
        )
    negatives, positives = table.reshape(2, classes, cells)
    return negatives + positives, positives


@functools.partial(jax.jit, static_argnames=("bins",))
def score_histogram(rows: Rows, *, bins: int) -> Histogram:
    """:class:`Histogram` of in-memory rows, cells spanning each class's range over the rows
    of weight > 0; works inside ``jit`` and ``vmap``.

    Args:
      rows: :class:`jaxthresh.core.validation.Rows`.
      bins: equal cells per class (static).
    """
    if batching.sharded_rows() is not None and not batching.rows_are_local():
        return _sharded_score_histogram(rows, bins)
    scores = rows.scores
    kept = rows.element_weights > 0
    high = highest_of(scores, axis=0, where=kept)
    low, width = cells_of(jnp.min(jnp.where(kept, scores, jnp.inf), axis=0), high, bins)
    counts, positives = cell_counts(scores, rows.labels, rows.weights, low, width, cells=bins)
    return Histogram(low, width, counts, positives, high)


def _sharded_score_histogram(rows: Rows, bins: int) -> Histogram:
    """:func:`score_histogram` of rows split over devices: each device takes its own rows
    a block at a time (``shard_map``; two passes: the range, then the counts), the
    devices agree on each class's range (extremes of order keys: exact) and add their
    ``[classes, cells]`` tables. No row leaves its device, and a device's temporaries are
    those of one block."""
    weights_spec = PartitionSpec(batching.ROWS, *(None,) * (rows.weights.ndim - 1))
    matrix_spec = PartitionSpec(batching.ROWS, None)

    def own_rows(scores, labels, weights):
        n, classes = scores.shape
        step = max(1, min(n, BLOCK_KEYS // classes))
        starts = jnp.minimum(jnp.arange(-(-n // step)) * step, n - step)

        def block(index):
            start = starts[index]
            piece = [jax.lax.dynamic_slice_in_dim(a, start, step, 0) for a in (scores, labels)]
            fresh = start + jnp.arange(step) >= index * step  # overlapped rows: counted once
            own = jax.lax.dynamic_slice_in_dim(weights, start, step, 0)
            own = jnp.where(fresh.reshape(-1, *(1,) * (own.ndim - 1)), own, 0).astype(own.dtype)
            return piece[0], piece[1], own

        def extremes(carry, index):
            scores, _, own = block(index)
            kept = validation.element_shaped(own) > 0
            keys = order_keys(scores)
            lowest = jnp.min(jnp.where(kept, keys, jnp.iinfo(jnp.int32).max), axis=0)
            highest = jnp.max(jnp.where(kept, keys, jnp.iinfo(jnp.int32).min), axis=0)
            return (jnp.minimum(carry[0], lowest), jnp.maximum(carry[1], highest)), None

        start = (
            jnp.full(classes, jnp.iinfo(jnp.int32).max),
            jnp.full(classes, jnp.iinfo(jnp.int32).min),
        )
        (lowest, highest), _ = jax.lax.scan(extremes, start, jnp.arange(len(starts)))
        lowest = jax.lax.pmin(lowest, batching.ROWS)
        highest = jax.lax.pmax(highest, batching.ROWS)
        kept_any = lowest <= highest
        low_value = jnp.where(kept_any, from_order_keys(lowest), jnp.inf)
        high = jnp.where(kept_any, from_order_keys(highest), -jnp.inf)
        low, width = cells_of(low_value, high, bins)

        def add(tables, index):
            counted = cell_counts(*block(index), low, width, cells=bins)
            return tuple(t + c for t, c in zip(tables, counted, strict=True)), None

        dtype = count_dtype(weights.dtype)
        zeros = jnp.zeros((classes, bins), dtype)
        (counts, positives), _ = jax.lax.scan(add, (zeros, zeros), jnp.arange(len(starts)))
        counts = jax.lax.psum(counts, batching.ROWS)
        positives = jax.lax.psum(positives, batching.ROWS)
        return Histogram(low, width, counts, positives, high)

    return jax.shard_map(
        own_rows,
        in_specs=(matrix_spec, matrix_spec, weights_spec),
        out_specs=PartitionSpec(),
        check_vma=False,
    )(rows.scores, rows.labels, rows.weights)


def histogram_candidates(histogram: Histogram) -> Candidates:
    """The cuts between the cells of a histogram (:class:`jaxthresh.core.cuts.Candidates`,
    every non-empty cell), which hold on the rows: the cut above cell ``k`` predicts exactly
    the rows of cells ``k`` and up. Its ``upper`` is the float just above ``edge_k`` (every
    row of cell ``k`` is at least that; for cell 0, ``low``), its ``lower`` the upper edge
    of the next non-empty cell below, so ``threshold_between`` picks a threshold in
    ``[lower, edge_k]``."""
    counts = histogram.counts[:, ::-1]
    positives = histogram.positives[:, ::-1]
    cells = counts.shape[1]
    index = jnp.arange(cells - 1, -1, -1, dtype=jnp.float32)
    low, width = histogram.low[:, None], histogram.width[:, None]
    edges = cell_edges(low, width, index)
    upper = jnp.where(index > 0, from_order_keys(order_keys(edges) + 1), low)
    valid = counts > 0
    tops = jnp.where(valid, cell_edges(low, width, index + 1), -jnp.inf)
    below = jnp.concatenate([tops[:, 1:], jnp.full_like(tops[:, :1], -jnp.inf)], axis=1)
    return Candidates(
        upper=upper,
        lower=from_order_keys(jax.lax.cummax(order_keys(below), axis=1, reverse=True)),
        true_positives=jnp.cumsum(positives, axis=1),
        predicted=jnp.cumsum(counts, axis=1),
        valid=valid,
        # Predicting nothing takes a threshold above the highest score itself.
        highest=jnp.where(jnp.any(valid, axis=1), histogram.high, -jnp.inf),
        positives=jnp.sum(histogram.positives, axis=1),
        total=jnp.sum(histogram.counts, axis=1),
    )


def histogram_sorted_keys(histogram: Histogram) -> SortedKeys:
    """The cells of a histogram as :class:`jaxthresh.core.cuts.SortedKeys`, each cell's
    rows at its centre: ``counts_above`` at any threshold counts the rows of the cells
    whose centre is above it (as SGLThresh sees them), which on a threshold between cells
    is exactly the rows above it."""
    keys = descending_keys(cell_centres(histogram)[:, ::-1])
    return SortedKeys(
        keys=keys,
        positive_keys=keys,
        cumulative=jnp.cumsum(histogram.counts[:, ::-1], axis=1),
        positive_cumulative=jnp.cumsum(histogram.positives[:, ::-1], axis=1),
    )


def cell_centres(histogram: Histogram) -> jax.Array:
    """float32[classes, cells], the centre of every cell (ascending)."""
    index = jnp.arange(histogram.counts.shape[1], dtype=jnp.float32) + 0.5
    return cell_edges(histogram.low[:, None], histogram.width[:, None], index)


def _checked_shapes(histogram, name: str) -> tuple[int, int]:
    """``(classes, cells)`` of a :class:`Histogram` whose fields are numeric arrays of
    consistent shapes; else a ``ValueError`` naming ``name`` and the field."""
    if not isinstance(histogram, Histogram):
        raise ValueError(f"{name}: expected a jaxthresh.Histogram, got {type(histogram).__name__}")
    for field in Histogram._fields:
        validation._array(getattr(histogram, field), f"{name}.{field}")
    counts = getattr(histogram.counts, "shape", ())
    if len(counts) != 2 or 0 in counts:
        raise ValueError(f"{name}.counts: expected shape [classes, cells], both >= 1, got {counts}")
    for field in ("low", "width", "high"):
        shape = getattr(histogram, field).shape
        if shape != counts[:1]:
            raise ValueError(
                f"{name}.{field}: expected shape ({counts[0]},), one value per class of "
                f"counts {counts}, got {shape}"
            )
    if histogram.positives.shape != counts:
        raise ValueError(
            f"{name}.positives: shape {histogram.positives.shape} does not match counts {counts}"
        )
    return counts


def _float_counts(histogram) -> bool:
    """Whether a histogram's counts are float sums (float row weights), not exact ints."""
    return any(
        jnp.issubdtype(v.dtype, jnp.floating) for v in (histogram.counts, histogram.positives)
    )


def checked_histogram(histogram, name: str = "histogram") -> Histogram:
    """``histogram`` checked, with its fields as JAX arrays of the dtypes fits expect
    (float32 edges; int32 counts, or float32 for float ones): shapes and dtypes always,
    values on concrete input (finite edges, ``width > 0``, ``0 <= positives <= counts``,
    at least one row, a total over every class that the counts of a fit hold). A
    ``ValueError`` names ``name`` and the field."""
    _checked_shapes(histogram, name)
    count_type = jnp.float32 if _float_counts(histogram) else jnp.int32
    if not validation.is_traced(histogram):
        _check_histogram_values(histogram, name)
    return Histogram(
        *(jnp.asarray(getattr(histogram, f), jnp.float32) for f in ("low", "width")),
        jnp.asarray(histogram.counts, count_type),
        jnp.asarray(histogram.positives, count_type),
        jnp.asarray(histogram.high, jnp.float32),
    )


def merge_histograms(histograms) -> Histogram:
    """The :class:`Histogram` of the rows of several histograms of the same cells: their
    counts added, cell by cell (exactly: the histogram of all their rows together, as
    :func:`jaxthresh.histogram_pass` on the rows concatenated builds it where the cells are
    the same). Histograms of parts of the rows share their cells when they are built with
    one ``score_range`` (``histogram_pass(..., all_processes=True)`` agrees on one across
    processes and merges with this function).

    Runs on the host, on concrete histograms (not inside ``jit``).

    Args:
      histograms: a non-empty list (or other sequence) of :class:`Histogram`, each with
        ``low``, ``width``, ``high`` float32[classes] and ``counts``, ``positives``
        ``[classes, cells]``, all of the same classes and cells: equal ``low`` and
        ``width`` (exactly, per class) and the same kind of counts (int32, or float32 sums
        of float weights). A histogram of no rows (counts all 0) adds nothing.

    Returns:
      :class:`Histogram`: the shared ``low`` and ``width``; ``counts`` and ``positives``
      ``[classes, cells]``, the sums (int32, or float32); ``high`` float32[classes], the
      highest of the ``high`` (``-inf`` for a class without rows).

    Raises:
      ValueError: naming ``histograms`` (and the index of the one at fault): an empty list
        or not a list of histograms, a histogram that ``fit_histogram`` would refuse
        (shapes, dtypes, values; holding no row is allowed here), cells that differ from
        those of ``histograms[0]`` (classes, cells, ``low`` or ``width`` of some class),
        int counts beside float ones, or sums that the counts cannot hold: a class whose
        rows total more than 2**31 - 1 (int32) or, for float counts, more than 1e30
        (:data:`jaxthresh.core.validation.MAX_COUNT`, ``MAX_FLOAT_TOTAL``).
    """
    name = "histograms"
    if isinstance(histograms, Histogram):
        raise ValueError(f"{name}: expected a list of Histograms, got one Histogram")
    try:
        histograms = list(histograms)
    except TypeError:
        raise ValueError(
            f"{name}: expected a list of Histograms, got {type(histograms).__name__}"
        ) from None
    if not histograms:
        raise ValueError(f"{name}: an empty list; expected at least one Histogram")
    host = []
    for index, histogram in enumerate(histograms):
        where = f"{name}[{index}]"
        shape = _checked_shapes(histogram, where)
        if validation.is_traced(histogram):
            raise ValueError(f"{where}: traced; merge concrete histograms, outside jit")
        _check_histogram_values(histogram, where, rows_required=False)
        fields = Histogram(*(np.asarray(jax.device_get(v)) for v in histogram))
        if index:
            _check_same_cells(fields, host[0], shape, where, name)
        host.append(fields)
    kinds = ["float" if _float_counts(h) else "int" for h in host]
    if len(set(kinds)) > 1:
        other = kinds.index("float" if kinds[0] == "int" else "int")
        raise ValueError(
            f"{name}[{other}].counts: {kinds[other]} counts cannot be merged with the "
            f"{kinds[0]} counts of {name}[0]"
        )
    floats = kinds[0] == "float"
    wide = np.float64 if floats else np.int64
    counts = sum(h.counts.astype(wide) for h in host)
    positives = sum(h.positives.astype(wide) for h in host)
    per_class = counts.sum(axis=1)
    limit = validation.MAX_FLOAT_TOTAL if floats else validation.MAX_COUNT
    if np.any(per_class > limit):
        worst = int(np.argmax(per_class))
        total = f"{per_class[worst]:.6g}" if floats else str(int(per_class[worst]))
        raise ValueError(
            f"{name}: the counts of class {worst} total {total} together, more than "
            f"{'float32 counts hold (1e30)' if floats else 'exact int32 counts hold (2**31 - 1)'}"
        )
    count_type = jnp.float32 if floats else jnp.int32
    return Histogram(
        jnp.asarray(host[0].low, jnp.float32),
        jnp.asarray(host[0].width, jnp.float32),
        jnp.asarray(counts, count_type),
        jnp.asarray(positives, count_type),
        jnp.asarray(np.max([h.high.astype(np.float32) for h in host], axis=0), jnp.float32),
    )


def _check_same_cells(fields: Histogram, first: Histogram, shape, where: str, name: str) -> None:
    """A ``ValueError`` naming ``where`` unless its cells are those of ``first``."""
    if shape != first.counts.shape:
        raise ValueError(
            f"{where}.counts: {shape[0]} classes x {shape[1]} cells, but {name}[0] has "
            f"{first.counts.shape[0]} x {first.counts.shape[1]}: merge histograms of the "
            "same classes and cells"
        )
    for field in ("low", "width"):
        ours = getattr(fields, field).astype(np.float32)
        theirs = getattr(first, field).astype(np.float32)
        differ = ours != theirs
        if differ.any():
            at = int(np.flatnonzero(differ)[0])
            raise ValueError(
                f"{where}.{field}: {ours[at]!s} at class {at}, but {name}[0] has "
                f"{theirs[at]!s} ({int(differ.sum())} classes differ): merge "
                "histograms of the same cells (give every part one score_range)"
            )


def _check_histogram_values(histogram: Histogram, name: str, *, rows_required: bool = True) -> None:
    """The value checks of :func:`checked_histogram`; ``rows_required=False`` allows a
    histogram of no rows and leaves out the bound on the total a fit pools."""
    low, width, counts, positives, high = (np.asarray(jax.device_get(v)) for v in histogram)
    limit = np.finfo(np.float32).max
    with np.errstate(over="ignore", invalid="ignore"):
        problems = {
            "low": ~(np.abs(low.astype(np.float64)) <= limit),
            "width": ~((width > 0) & (width.astype(np.float64) <= limit)),
            "high": ~((np.abs(high.astype(np.float64)) <= limit) | np.isneginf(high)),
            "counts": ~(counts >= 0) | ~np.isfinite(counts.astype(np.float64)),
            "positives": ~((positives >= 0) & (positives <= counts)),
        }
    wanted = {
        "low": "finite as float32",
        "width": "> 0 and finite as float32",
        "high": "finite as float32, or -inf for a class without rows",
        "counts": "finite and >= 0",
        "positives": ">= 0 and at most the counts of their cells",
    }
    for field, bad in problems.items():
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            value = np.asarray(getattr(histogram, field))[where].item()
            raise ValueError(
                f"{name}.{field}: must be {wanted[field]}, found {value!r} at "
                f"{'class' if len(where) == 1 else '[class, cell]'} "
                f"{where[0] if len(where) == 1 else list(where)} ({int(bad.sum())} such values)"
            )
    if not rows_required:
        return
    total = float(counts.sum(dtype=np.float64))  # pooled over every class, as fits pool
    floats = np.issubdtype(counts.dtype, np.floating)
    limit = validation.MAX_FLOAT_TOTAL if floats else validation.MAX_COUNT
    if total == 0:
        raise ValueError(f"{name}.counts: every count is 0: the histogram holds no row")
    if total > limit:
        raise ValueError(
            f"{name}.counts: the counts of every class total {total:.4g}, more than the "
            f"{'float32' if floats else 'exact int32'} counts of a fit hold ({limit:.4g})"
        )
