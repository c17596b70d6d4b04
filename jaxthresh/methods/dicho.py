"""dichoThresh: coarse grid search, then Gaussian perturbations with a shrinking spread.

The random-search baseline of the SGLThresh paper (Sec. 3.2, after Cances et al. 2019):

1. coarse search: a grid of ``coarse_points`` thresholds spanning the scores; a separable
   average (macro, weighted, a utility's micro sum) takes the best grid value for each class
   alone, a pooled (micro) one the best value shared by all classes;
2. ``steps`` refinement steps: ``candidates`` random threshold vectors around the best so
   far, ``best + spread_s * N(0, 1)`` with ``spread_s = spread * shrink**s`` (a narrower
   range and finer precision every step). A separable average accepts, per class, the best
   candidate value if it beats that class's current score; a pooled one accepts the best
   whole candidate vector if it beats the current score.

Each class's scores are sorted once; after that, the exact counts of any candidate thresholds
are binary searches (:func:`jaxthresh.core.cuts.counts_above`), so every candidate is scored for
all classes at once (``vmap``) in O(classes * log n). Every step is one iteration of a
``lax.scan``, and the randomness comes from an explicit PRNG key.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh import objectives
from jaxthresh.core import diagnostics
from jaxthresh.core.cuts import (
    SENTINEL,
    counts_above,
    from_order_keys,
    lowest_of,
    positive_weight,
    sorted_keys,
)
from jaxthresh.core.metrics import objective_score
from jaxthresh.core.progress import report
from jaxthresh.core.validation import Rows
from jaxthresh.methods.base import (
    Iterative,
    Method,
    average_field,
    hyperparameter,
    objective_field,
    register,
)


class DichoResult(NamedTuple):
    """Result of :func:`fit_dicho`.

    Attributes:
      thresholds: float32[classes].
      history: float32[steps], F-beta on the fitting data after each refinement step.
    """

    thresholds: jax.Array
    history: jax.Array


def _per_class_and_total(counts, objective: objectives.Objective, average: str):
    """Per-class scores ``[..., classes]`` and the averaged score ``[...]`` of batched
    counts."""
    return objective.per_class(counts.confusion()), objective_score(counts, objective, average)


def dicho_search(
    rows: Rows,
    key: jax.Array,
    spread: jax.Array,
    shrink: jax.Array,
    objective: objectives.Objective,
    *,
    coarse_points: int,
    steps: int,
    candidates: int,
    average: str,
) -> DichoResult:
    """dichoThresh on weighted rows (see :class:`Dicho`); traceable."""
    n_classes = rows.scores.shape[1]
    columns = jnp.arange(n_classes)
    cuts = sorted_keys(rows.scores, rows.labels, rows.weights, slots=rows.positive_slots)
    low = lowest_of(lowest_of(rows.scores, axis=0, where=rows.element_weights > 0), axis=0)
    first = jnp.min(cuts.keys[:, 0])  # the highest score's key: the lowest key
    high = jnp.where(first == SENTINEL, -jnp.inf, from_order_keys(-first))
    class_weights = objective.class_weights(positive_weight(cuts), average)

    def score_all(thresholds):  # [m, classes] -> per-class [m, classes], micro [m]
        counts = jax.vmap(lambda t: counts_above(cuts, t))(thresholds)
        return _per_class_and_total(counts, objective, average)

    grid = low + (high - low) * jnp.linspace(0.0, 1.0, coarse_points)
    grid_thresholds = jnp.broadcast_to(grid[:, None], (coarse_points, n_classes))
    per_class, micro = score_all(grid_thresholds)
    if objective.separable(average):
        best = jnp.argmax(per_class, axis=0)
        thresholds, per_class = grid[best], per_class[best, columns]
        score = jnp.sum(per_class * class_weights)
    else:
        best = jnp.argmax(micro)
        thresholds, per_class, score = grid_thresholds[best], per_class[best], micro[best]

    def refine(carry, inputs):
        thresholds, per_class, score = carry
        step_key, width, index = inputs
        noise = jax.random.normal(step_key, (candidates, n_classes))
        trial = thresholds + width * noise
        trial_per_class, trial_micro = score_all(trial)
        if objective.separable(average):
            pick = jnp.argmax(trial_per_class, axis=0)
            offered = trial_per_class[pick, columns]
            accept = offered > per_class
            thresholds = jnp.where(accept, trial[pick, columns], thresholds)
            per_class = jnp.where(accept, offered, per_class)
            score = jnp.sum(per_class * class_weights)
        else:
            pick = jnp.argmax(trial_micro)
            accept = trial_micro[pick] > score
            thresholds = jnp.where(accept, trial[pick], thresholds)
            per_class = jnp.where(accept, trial_per_class[pick], per_class)
            score = jnp.where(accept, trial_micro[pick], score)
        report("dicho", index + 1, steps, score)
        return (thresholds, per_class, score), score

    widths = spread * shrink ** jnp.arange(steps, dtype=jnp.float32)
    (thresholds, _, _), history = jax.lax.scan(
        refine,
        (thresholds, per_class, score),
        (jax.random.split(key, steps), widths, jnp.arange(steps)),
    )
    return DichoResult(thresholds, history)


@register
@dataclasses.dataclass(frozen=True, eq=False)
class Dicho(Iterative, Method):
    """dichoThresh: coarse grid search, then shrinking Gaussian random search (the SGLThresh
    paper's random-search baseline)."""

    name = "dicho"
    result_type = DichoResult

    key: jax.Array = hyperparameter("key", None, help="The jax.random key of the random search.")
    coarse_points: int = hyperparameter(
        "count", 21, help="Grid size of the coarse search, from the lowest to the highest score."
    )
    steps: int = hyperparameter("count", 100, help="Refinement steps.")
    candidates: int = hyperparameter("count", 16, help="Random candidates per refinement step.")
    spread: jax.Array = hyperparameter(
        "positive", 0.05, help="Standard deviation of the perturbations at the first step."
    )
    shrink: jax.Array = hyperparameter(
        "fraction", 0.97, help="Factor in (0, 1] applied to the spread after every step."
    )
    objective: objectives.Objective = objective_field()
    average: str = average_field()

    def diagnose(self, result: DichoResult, summary, rows: Rows) -> list[str]:
        del result, rows
        final_spread = float(self.spread) * float(self.shrink) ** (self.steps - 1)
        return diagnostics.coarse_step_warnings(summary, final_spread, "spread", self.name)

    def fit_rows(self, rows: Rows) -> DichoResult:
        return dicho_search(
            rows,
            self.key,
            self.spread,
            self.shrink,
            self.objective,
            coarse_points=self.coarse_points,
            steps=self.steps,
            candidates=self.candidates,
            average=self.average,
        )
