"""numThresh (Kong et al.): Adam on finite-difference gradients of the objective.

For each class ``c``, the gradient is the change in the objective when its threshold alone
moves up by ``step``, retried with ``2 step``, ``3 step``, ... up to ``max_search`` steps
while it does not change, divided by the distance moved (0 if it never changes). Adam
ascends it.

The published form re-scores the whole data set for every class and every retry:
O(n * classes^2 * max_search) per epoch. Here the objective depends on the other classes
only through totals (micro) or a weighted sum (macro, weighted), so the per-class counts
at the ``max_search + 1`` shifted thresholds give every class's moved score at once, with
the same values as the definition. Those counts are exact binary searches in each class's
scores, sorted once (:func:`jaxthresh.core.cuts.counts_above`): O(n log n * classes) once,
then
O(classes * max_search * log n) per epoch. All epochs run in one ``lax.scan``.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxthresh import objectives
from jaxthresh.core import diagnostics
from jaxthresh.core.cuts import SortedKeys, counts_above, sorted_keys
from jaxthresh.core.histogram import Histogram, histogram_sorted_keys
from jaxthresh.core.metrics import Counts, objective_score
from jaxthresh.core.progress import report
from jaxthresh.core.validation import Rows
from jaxthresh.methods.base import (
    Iterative,
    Method,
    average_field,
    bins_field,
    hyperparameter,
    objective_field,
    register,
)
from jaxthresh.methods.global_threshold import StartsAtGlobalThreshold


class NumericalResult(NamedTuple):
    """Result of :func:`fit_numerical`.

    Attributes:
      thresholds: float32[classes].
      history: float32[epochs], the objective on the fitting data after every epoch.
    """

    thresholds: jax.Array
    history: jax.Array


def moved_scores(counts: Counts, objective: objectives.Objective, average: str) -> jax.Array:
    """The objective when one class's threshold alone moves, from per-class counts.

    Args:
      counts: :class:`jaxthresh.Counts` with fields ``[moves, classes]``; row 0 holds the
        counts at the current thresholds, row ``j`` those of every class moved by move ``j``.
      objective: a :class:`jaxthresh.objectives.Objective`.
      average: "micro", "macro" or "weighted".

    Returns:
      float32[moves, classes]: entry ``[j, c]`` is the score with class ``c`` moved by move
      ``j`` and every other class where it is (row 0: the current score, repeated).
    """
    if objective.separable(average):
        weights = objective.class_weights(counts.positives[0], average)
        per_class = objective.per_class(counts.confusion()) * weights
        return jnp.sum(per_class[0]) - per_class[0] + per_class
    # The pooled counts with class c's own counts replaced by its moved ones.
    pooled = Counts(*(jnp.sum(c[0]) - c[0] + c for c in counts))
    return objective.per_class(pooled.confusion())


def finite_difference_gradient(moved: jax.Array, step) -> jax.Array:
    """Per-class numThresh gradient from :func:`moved_scores` ``[max_search + 1, classes]``:
    the first non-zero change over its distance ``j * step``, or 0."""
    change = moved[1:] - moved[:1]
    changed = change != 0
    first = jnp.argmax(changed, axis=0)
    columns = jnp.arange(moved.shape[1])
    distance = (first + 1).astype(jnp.float32) * step
    return jnp.where(jnp.any(changed, axis=0), change[first, columns] / distance, 0.0)


def numerical_from_sorted_keys(
    cuts: SortedKeys,
    init: jax.Array,
    learning_rate: jax.Array,
    step: jax.Array,
    objective: objectives.Objective,
    *,
    epochs: int,
    max_search: int,
    average: str,
) -> NumericalResult:
    """numThresh with counts looked up in :class:`jaxthresh.core.cuts.SortedKeys` (one row
    per class): of the rows themselves, or of a histogram's cells."""
    optimizer = optax.adam(learning_rate)
    moves = step * jnp.arange(max_search + 1, dtype=jnp.float32)[:, None]

    def counts_at(thresholds):
        return jax.vmap(lambda move: counts_above(cuts, thresholds + move))(moves)

    def epoch(carry, index):
        thresholds, state = carry
        moved = moved_scores(counts_at(thresholds), objective, average)
        gradient = finite_difference_gradient(moved, step)
        updates, state = optimizer.update(-gradient, state, thresholds)
        report("numerical", index + 1, epochs, moved[0, 0])
        return (optax.apply_updates(thresholds, updates), state), moved[0, 0]

    (thresholds, _), before = jax.lax.scan(epoch, (init, optimizer.init(init)), jnp.arange(epochs))
    final = objective_score(counts_above(cuts, thresholds), objective, average)
    # The score before epoch i + 1 is the score after epoch i.
    return NumericalResult(thresholds, jnp.concatenate([before[1:], final[None]]))


@register
@dataclasses.dataclass(frozen=True, eq=False)
class Numerical(StartsAtGlobalThreshold, Iterative, Method):
    """numThresh (Kong et al.): Adam ascent on finite-difference gradients of the
    objective."""

    name = "numerical"
    result_type = NumericalResult

    init: jax.Array | None = hyperparameter(
        "per_class",
        None,
        help="Initial thresholds, one number or one per class; None for the best single "
        "threshold (found exactly).",
    )
    learning_rate: jax.Array = hyperparameter("positive", 1e-2, help="Adam's step size.")
    epochs: int = hyperparameter("count", 100, help="Full-batch Adam steps.")
    step: jax.Array = hyperparameter(
        "positive", 0.01, help="Threshold increment of the finite difference."
    )
    max_search: int = hyperparameter(
        "count", 10, help="The most increments tried while the objective does not change."
    )
    objective: objectives.Objective = objective_field()
    average: str = average_field()
    bins: int | None = bins_field()

    def diagnose(self, result: NumericalResult, summary, rows: Rows) -> list[str]:
        return [
            *diagnostics.coarse_step_warnings(summary, self.step, "step", self.name),
            *diagnostics.start_warnings(summary, self.init, result.thresholds, self.name, rows),
        ]

    def _from_sorted_keys(self, cuts: SortedKeys) -> NumericalResult:
        return numerical_from_sorted_keys(
            cuts,
            jnp.asarray(self.init, jnp.float32),
            self.learning_rate,
            self.step,
            self.objective,
            epochs=self.epochs,
            max_search=self.max_search,
            average=self.average,
        )

    def fit_rows(self, rows: Rows) -> NumericalResult:
        sorted = sorted_keys(rows.scores, rows.labels, rows.weights, slots=rows.positive_slots)
        return self._from_sorted_keys(sorted)

    def fit_histogram(self, histogram: Histogram) -> NumericalResult:
        return self._from_sorted_keys(histogram_sorted_keys(histogram))
