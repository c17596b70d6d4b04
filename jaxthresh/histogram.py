"""Per-class score histograms: an SGLThresh epoch that costs O(classes x bins), not O(n).

Each class's rows are grouped into ``bins`` bins of consecutive scores. Bin edges follow the
class's own quantiles, counted half over all rows and half over the positive rows, so every
bin holds at most about ``2 / bins`` of either: resolution goes where the rows and the
positives are. A bin stands for its rows at their mean score; its weight of positive rows
and of all rows replaces the rows. After this one pass (a sort per class, see
:mod:`jaxthresh._cuts`), every epoch works on ``[classes, bins]`` arrays, whatever ``n``.
Equal scores never straddle two bins.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh._cuts import column_cuts


class ScoreHistogram(NamedTuple):
    """Per-class histograms of scores. Fields are ``[classes, bins]``, bin 0 the highest.

    Attributes:
      values: float32, the mean score of each bin's rows (0.0 for an empty bin).
      positives: int32, the weight of the bin's positive rows.
      counts: int32, the weight of all the bin's rows.
    """

    values: jax.Array
    positives: jax.Array
    counts: jax.Array


@functools.partial(jax.jit, static_argnames=("bins",))
def score_histogram(
    scores: jax.Array, labels: jax.Array, row_weights: jax.Array, *, bins: int
) -> ScoreHistogram:
    """Builds :class:`ScoreHistogram` of ``bins`` bins per class; jit- and vmap-friendly.

    Args:
      scores: float32[n, classes].
      labels: bool[n, classes].
      row_weights: int32[n], row multiplicities (0 drops a row).
      bins: bins per class (static).
    """
    cuts = column_cuts(scores.T, labels.T, row_weights[None, :])
    total = cuts.predicted[:, -1:].astype(jnp.float32)
    total_positive = cuts.true_positives[:, -1:].astype(jnp.float32)
    # The weight strictly above each distinct score, as a fraction of the total: a rank.
    above = (cuts.predicted - cuts.added) / jnp.maximum(total, 1.0)
    above_positive = (cuts.true_positives - cuts.added_positives) / jnp.maximum(total_positive, 1.0)
    rank = jnp.where(total_positive > 0, (above + above_positive) / 2, above)
    index = jnp.clip(jnp.floor(rank * bins).astype(jnp.int32), 0, bins - 1)
    rows = jnp.broadcast_to(jnp.arange(index.shape[0])[:, None], index.shape)

    def add(values):
        return jnp.zeros((index.shape[0], bins), values.dtype).at[rows, index].add(values)

    counts = add(cuts.added)
    sums = add(cuts.added * jnp.where(cuts.valid, cuts.upper, 0.0))
    # A bin of one distinct score takes that score exactly (a float32 mean may miss by an ulp).
    distinct = add(cuts.valid.astype(jnp.int32))
    single = add(jnp.where(cuts.valid, cuts.upper, 0.0))
    mean = jnp.where(counts > 0, sums / jnp.maximum(counts, 1), 0.0)
    return ScoreHistogram(
        values=jnp.where(distinct == 1, single, mean),
        positives=add(cuts.added_positives),
        counts=counts,
    )
