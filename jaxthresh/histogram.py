"""Per-class score histograms on equal cells: fits whose epochs cost O(classes x cells).

Each class's score range ``[low, high]`` (over the rows that count) is cut into ``cells``
equal cells; one pass over the rows counts, per class and cell, all rows and positive rows
(exact ``int32``). The fits then see each cell as a group of rows:

a cell's rows sit at its centre (:func:`cell_centres`), for ``fit_sgl``, ``fit_exact`` and
``fit_numerical`` alike (``bins=``); exact and numThresh look counts up in the cuts between
cells (:func:`histogram_cuts`), so their thresholds never fall inside a non-empty cell and
their scores are exact at cell resolution.

Rows in one cell, of width ``(high - low) / cells``, are never separated: that is the only
approximation. The same tables are built chunk by chunk from data larger than memory by
:mod:`jaxthresh.streaming`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh._cuts import Cuts, descending_keys


class Histogram(NamedTuple):
    """Per-class histograms on equal cells: cell ``k`` of class ``c`` holds the scores in
    ``[low[c] + k * width[c], low[c] + (k + 1) * width[c])`` (the end cells also hold any
    score beyond the range).

    Attributes:
      low: float32[classes], the lower edge of cell 0.
      width: float32[classes], the cells' width (> 0).
      counts: int32[classes, cells], the weight of the rows in each cell.
      positives: int32[classes, cells], the weight of the positive rows in each cell.
      high: float32[classes], the highest score counted (``-inf`` if none): a threshold
        at or above it predicts nothing.
    """

    low: jax.Array
    width: jax.Array
    counts: jax.Array
    positives: jax.Array
    high: jax.Array


def cells_of(low: jax.Array, high: jax.Array, cells: int) -> tuple[jax.Array, jax.Array]:
    """``(low, width)``, float32[classes], of ``cells`` equal cells spanning ``[low, high]``;
    a class with one score (or none: ``low`` infinite) gets width 1."""
    finite = jnp.isfinite(low) & jnp.isfinite(high)
    low = jnp.where(finite, low, 0.0).astype(jnp.float32)
    span = jnp.where(finite, high - low, 0.0)
    return low, jnp.where(span > 0, span / cells, 1.0).astype(jnp.float32)


def cell_counts(
    scores: jax.Array,
    labels: jax.Array,
    row_weights: jax.Array | None,
    low: jax.Array,
    width: jax.Array,
    *,
    cells: int,
) -> tuple[jax.Array, jax.Array]:
    """The ``(counts, positives)`` tables, int32[classes, cells], of some rows.

    Args:
      scores: float32[rows, classes], finite.
      labels: bool[rows, classes].
      row_weights: int32[rows] (0 drops a row), or None for weight 1 everywhere.
      low, width: float32[classes], the cells.
      cells: cells per class (static).
    """
    classes = scores.shape[1]
    cell = jnp.clip(jnp.floor((scores - low) / width), 0, cells - 1).astype(jnp.int32)
    index = cell + cells * jnp.arange(classes, dtype=jnp.int32) + classes * cells * labels
    table = jnp.zeros(2 * classes * cells, jnp.int32)
    if row_weights is None:
        table = table.at[index.ravel()].add(1, mode="drop")
    else:
        weights = jnp.broadcast_to(row_weights[:, None], scores.shape)
        table = table.at[index.ravel()].add(weights.ravel().astype(jnp.int32), mode="drop")
    negatives, positives = table.reshape(2, classes, cells)
    return negatives + positives, positives


@functools.partial(jax.jit, static_argnames=("cells",))
def score_histogram(
    scores: jax.Array, labels: jax.Array, row_weights: jax.Array, *, cells: int
) -> Histogram:
    """:class:`Histogram` of in-memory rows, cells spanning each class's range over the rows
    of weight > 0; jit- and vmap-friendly.

    Args:
      scores: float32[n, classes].
      labels: bool[n, classes].
      row_weights: int32[n], row multiplicities (0 drops a row).
      cells: cells per class (static).
    """
    kept = row_weights[:, None] > 0
    high = jnp.max(jnp.where(kept, scores, -jnp.inf), axis=0)
    low, width = cells_of(jnp.min(jnp.where(kept, scores, jnp.inf), axis=0), high, cells)
    counts, positives = cell_counts(scores, labels, row_weights, low, width, cells=cells)
    return Histogram(low, width, counts, positives, high)


def histogram_cuts(histogram: Histogram) -> Cuts:
    """The cuts of a histogram (:class:`jaxthresh._cuts.Cuts`), every cell a group of rows
    at its centre, as :func:`jaxthresh.fit_sgl` sees them: a cut's threshold lies halfway
    between two non-empty cells' centres, never inside a non-empty cell."""
    counts = histogram.counts[:, ::-1]
    positives = histogram.positives[:, ::-1]
    upper = cell_centres(histogram)[:, ::-1]
    valid = counts > 0
    weighted = jnp.where(valid, upper, -jnp.inf)
    below = jnp.concatenate([weighted[:, 1:], jnp.full_like(upper[:, :1], -jnp.inf)], axis=1)
    return Cuts(
        upper=upper,
        lower=jax.lax.cummax(below, axis=1, reverse=True),
        predicted=jnp.cumsum(counts, axis=1),
        true_positives=jnp.cumsum(positives, axis=1),
        valid=valid,
        added=counts,
        added_positives=positives,
        # Predicting nothing takes a threshold above the highest score itself.
        highest=jnp.where(jnp.any(valid, axis=1), histogram.high, -jnp.inf),
        keys=descending_keys(upper),
    )


def cell_centres(histogram: Histogram) -> jax.Array:
    """float32[classes, cells], the centre of every cell (ascending)."""
    index = jnp.arange(histogram.counts.shape[1], dtype=jnp.float32) + 0.5
    return histogram.low[:, None] + index * histogram.width[:, None]
