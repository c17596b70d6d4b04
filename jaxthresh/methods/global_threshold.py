"""defThresh: one threshold shared by every class, given or the best one found exactly.

The best single threshold is an exhaustive search: all ``n * classes`` scores are sorted
once (descending) and the counts of every cut between two distinct scores come from
cumulative sums (:mod:`jaxthresh.core.cuts`). For macro-F, a class's score changes only at
its own scores, so the macro sum at each cut is a running sum of those changes placed in
the global order. Equal scores are never split.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh.core.cuts import above_all, column_cuts, descending_keys, threshold_between
from jaxthresh.core.histogram import Histogram, cell_centres
from jaxthresh.core.metrics import fbeta_ratio
from jaxthresh.core.validation import Rows
from jaxthresh.methods.base import Method, average_field, beta_field, hyperparameter, register


class DefaultResult(NamedTuple):
    """Result of :func:`jaxthresh.fit_default`.

    Attributes:
      thresholds: float32[classes], the shared threshold repeated for every class.
      threshold: float32 scalar, the shared threshold.
    """

    thresholds: jax.Array
    threshold: jax.Array


def best_global_threshold(
    scores: jax.Array,
    labels: jax.Array,
    weights: jax.Array,
    *,
    average: str,
    beta=1.0,
    zero_division: float = 1.0,
) -> tuple[jax.Array, jax.Array]:
    """The single threshold maximizing F-beta over all classes, found exactly; traceable.

    Args:
      scores: float32[n, classes].
      labels: bool[n, classes].
      weights: the weight of each score, broadcastable to ``[n, classes]`` (row weights
        as ``[n, 1]``); weight 0 drops a score.
      average: "micro" or "macro" (static).
      beta: weight of recall.
      zero_division: score with no positives and no predictions.

    Returns:
      ``(threshold, score)``: float32 scalars; ``scores > threshold`` reaches ``score``.
    """
    n_classes = scores.shape[1]
    weights = jnp.broadcast_to(jnp.asarray(weights), scores.shape)
    cuts = jax.tree.map(
        lambda field: field[0],
        column_cuts(scores.reshape(1, -1), labels.reshape(1, -1), weights.reshape(1, -1)),
    )
    if average == "micro":
        positives = cuts.true_positives[-1]
        candidates = fbeta_ratio(
            cuts.true_positives, cuts.predicted, positives, beta, zero_division
        )
        nothing = fbeta_ratio(0, 0, positives, beta, zero_division)
    elif average == "macro":
        per_class = column_cuts(scores.T, labels.T, weights.T)
        positives = per_class.true_positives[:, -1:]
        after = fbeta_ratio(
            per_class.true_positives, per_class.predicted, positives, beta, zero_division
        )
        before = fbeta_ratio(
            per_class.true_positives - per_class.added_positives,
            per_class.predicted - per_class.added,
            positives,
            beta,
            zero_division,
        )
        change = jnp.where(per_class.valid, after - before, 0.0)
        positions = jnp.searchsorted(
            descending_keys(cuts.upper), descending_keys(per_class.upper), method="scan"
        )
        summed = (
            jnp.zeros(cuts.upper.shape, jnp.float32)
            .at[positions.reshape(-1)]
            .add(change.reshape(-1))
        )
        start = jnp.sum(fbeta_ratio(0, 0, positives, beta, zero_division))
        candidates = (start + jnp.cumsum(summed)) / n_classes
        nothing = start / n_classes
    else:
        raise ValueError(f"average: must be one of micro, macro; got {average!r}")
    candidates = jnp.where(cuts.valid, candidates, -jnp.inf)
    best = jnp.argmax(candidates)
    take_nothing = nothing >= candidates[best]
    threshold = threshold_between(cuts.upper[best], cuts.lower[best])
    return (
        jnp.where(take_nothing, above_all(cuts.highest), threshold),
        jnp.where(take_nothing, nothing, candidates[best]),
    )


def histogram_rows(histogram: Histogram) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A histogram as scored elements for :func:`best_global_threshold`: each cell's
    positive and negative rows at its centre, ``(scores, labels, weights)``, each
    ``[2 * cells, classes]``."""
    centres = cell_centres(histogram).T
    positives = histogram.positives.T
    scores = jnp.concatenate([centres, centres])
    labels = jnp.concatenate([jnp.ones_like(centres, bool), jnp.zeros_like(centres, bool)])
    return scores, labels, jnp.concatenate([positives, histogram.counts.T - positives])


class StartsAtGlobalThreshold:
    """For methods with ``init``, ``average`` and ``beta`` hyperparameters: ``init=None``
    starts every class at the best single threshold of the data (or of a histogram's
    cells)."""

    def _starting_at(self, scores, labels, weights, n_classes: int):
        if self.init is not None:
            return self
        threshold, _ = best_global_threshold(
            scores, labels, weights, average=self.average, beta=self.beta
        )
        return dataclasses.replace(self, init=jnp.full((n_classes,), threshold))

    def resolved(self, rows: Rows):
        return self._starting_at(
            rows.scores, rows.labels, rows.weights[:, None], rows.scores.shape[1]
        )

    def resolved_on_histogram(self, histogram: Histogram):
        return self._starting_at(*histogram_rows(histogram), histogram.low.shape[0])


@register
@dataclasses.dataclass(frozen=True, eq=False)
class Default(Method):
    """defThresh: one threshold for every class: the one given, or the single value that
    maximizes F-beta on the data, found exactly."""

    name = "default"
    result_type = DefaultResult

    threshold: jax.Array | None = hyperparameter(
        "real", None, help="The shared threshold; None for the best single one, found exactly."
    )
    average: str = average_field()
    beta: jax.Array = beta_field()

    def fit_rows(self, rows: Rows) -> DefaultResult:
        threshold = self.threshold
        if threshold is None:
            threshold, _ = best_global_threshold(
                rows.scores,
                rows.labels,
                rows.weights[:, None],
                average=self.average,
                beta=self.beta,
            )
        threshold = jnp.asarray(threshold, jnp.float32)
        return DefaultResult(jnp.full(rows.scores.shape[1:], threshold), threshold)
