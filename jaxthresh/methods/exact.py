"""The exact optimum: per-class thresholds that reach the global maximum of the objective.

Each class's scores are sorted once (descending, :mod:`jaxthresh.core.cuts`); the cuts
worth trying are predicting nothing and the cuts just below each distinct score, each with
its exact counts. For an objective that predicting more negatives never raises
(:attr:`jaxthresh.objectives.Objective.monotone`: F-beta, Jaccard, accuracy, balanced
accuracy, precision, recall), only the cuts just below each distinct positive score (any
other cut adds negative rows only); for the others (MCC, utilities, custom objectives),
every distinct score. The search over them is exhaustive:

* separable averages (macro, weighted, and micro of a utility, a sum of per-class gains):
  each class alone, the cut of highest per-class score;
* micro of a fraction ``num . x / den . x`` of the pooled counts ``x = (TP, FP, FN, TN, 1)``
  (F-beta, Jaccard, accuracy, balanced accuracy, precision, recall): the classes are
  coupled only through the pooled totals. For a fixed ratio value ``lam``, Dinkelbach's
  method maximizes ``(num - lam den) . x``, which is linear in the counts and splits into
  one independent choice of cut per class; setting ``lam`` to the ratio reached and
  repeating increases ``lam`` strictly until no cut improves it, which is the global
  maximum (a few passes in practice). Written once for every such objective.
* micro MCC and micro custom objectives have no such shape: ``fit_exact`` refuses them
  (``sgl``, ``numerical`` and ``dicho`` take them).

Among equally good cuts of a class, separable averages prefer predicting nothing, then
fewer predictions (a higher threshold); micro returns one of the optima.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh import objectives
from jaxthresh.core.cuts import Candidates, candidates_of, thresholds_at
from jaxthresh.core.histogram import Histogram, histogram_candidates
from jaxthresh.core.metrics import Counts, objective_score
from jaxthresh.core.reductions import argmax_first
from jaxthresh.core.validation import Rows
from jaxthresh.methods.base import Method, average_field, bins_field, objective_field, register

#: Dinkelbach passes before the micro search stops (it converges in a few; a fit that
#: reaches this reports ``steps == MAX_DINKELBACH_STEPS`` and is warned about).
MAX_DINKELBACH_STEPS = 100


class ExactResult(NamedTuple):
    """Result of :func:`fit_exact`.

    Attributes:
      thresholds: float32[classes], optimal thresholds (``scores > thresholds``).
      score: float32 scalar, the objective they reach on the fitting data: the maximum.
      steps: int32 scalar, Dinkelbach passes (micro fractions; 1 otherwise).
    """

    thresholds: jax.Array
    score: jax.Array
    steps: jax.Array


def chosen_counts(cuts: Candidates, cut: jax.Array, take: jax.Array) -> Counts:
    """The counts ``[classes]`` of each class at its cut ``cut`` where ``take``, else of
    predicting nothing."""
    columns = jnp.arange(cut.shape[0])
    at_cut = Counts.of(
        cuts.true_positives[columns, cut], cuts.predicted[columns, cut], cuts.positives, cuts.total
    )
    return jax.tree.map(lambda a, b: jnp.where(take, a, b), at_cut, cuts.nothing())


def exact_from_candidates(
    cuts: Candidates,
    objective: objectives.Objective,
    *,
    average: str,
    feasible: jax.Array | None = None,
) -> ExactResult:
    """The exact optimum over the candidate cuts of every class
    (:class:`jaxthresh.core.cuts.Candidates`, one row per class): of the rows themselves,
    or of a histogram's cells (arguments as :func:`best_cuts`)."""
    cut, take, steps = best_cuts(cuts, objective, average=average, feasible=feasible)
    score = objective_score(chosen_counts(cuts, cut, take), objective, average)
    return ExactResult(thresholds_at(cuts, cut, take), score, steps)


def best_cuts(
    cuts: Candidates,
    objective: objectives.Objective,
    *,
    average: str,
    feasible: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(cut, take, steps)``: each class's best cut (int32[classes], an index into its
    candidates), whether it takes it (bool[classes]; else it predicts nothing) and the
    Dinkelbach passes made.

    Args:
      cuts: the candidates, ``[classes, M]``.
      objective: the objective (micro MCC and custom objectives have no exact search).
      average: "micro", "macro" or "weighted" (static).
      feasible: None (every cut, and "predict nothing", may be chosen; nothing wins ties),
        or bool ``[classes, M]``: the cuts allowed; a class with one takes the best of
        them, a class without predicts nothing (``fit_constrained``).
    """
    objective.check_exact(average, "exact")
    allowed = cuts.valid if feasible is None else cuts.valid & feasible
    forced = None if feasible is None else jnp.any(allowed, axis=1)
    columns = jnp.arange(cuts.upper.shape[0])

    def choose(gain, nothing):
        gain = jnp.where(allowed & ~jnp.isnan(gain), gain, -jnp.inf)
        cut = argmax_first(gain, axis=1)
        take = gain[columns, cut] > nothing if forced is None else forced
        return cut, take

    if objective.separable(average):
        if objective.elementwise:  # any layout: no transposed copy of the counts
            counts = Counts.of(
                cuts.true_positives, cuts.predicted, cuts.positives[:, None], cuts.total[:, None]
            )
            per_class = objective.per_class(counts.confusion())
        else:  # classes last, as per-class coefficients and custom functions take them
            per_class = objective.per_class(cuts.counts().confusion()).T
        cut, take = choose(per_class, objective.per_class(cuts.nothing().confusion()))
        steps = jnp.int32(1)
    else:
        positives = jnp.sum(cuts.positives)
        fraction = objective.fraction(positives, jnp.sum(cuts.total) - positives)
        tp, pp = (c.astype(jnp.float32) for c in (cuts.true_positives, cuts.predicted))

        def ratio(cut, take):
            return objective_score(chosen_counts(cuts, cut, take), objective, "micro")

        def best_cut(lam):
            # Maximize (num - lam den) . (TP, FP, FN, TN) class by class: over predicting
            # nothing, a cut gains (c_tp - c_fn) TP + (c_fp - c_tn) FP, FP = PP - TP.
            c = fraction.numerator - lam * fraction.denominator
            gain = (c[0] - c[2] - c[1] + c[3]) * tp + (c[1] - c[3]) * pp
            return choose(gain, 0.0)

        def improving(state):
            *_, lam, previous, steps = state
            return (lam > previous) & (steps < MAX_DINKELBACH_STEPS)

        def step(state):
            cut, take, lam, _, steps = state
            new_cut, new_take = best_cut(lam)
            new_lam = ratio(new_cut, new_take)
            better = new_lam > lam
            return (
                jnp.where(better, new_cut, cut),
                jnp.where(better, new_take, take),
                jnp.maximum(new_lam, lam),
                lam,
                steps + 1,
            )

        # Start from the best cuts for lam = -inf's direction: predicting nothing (or, under
        # constraints, each class's first allowed cut).
        cut = argmax_first(allowed.astype(jnp.float32), axis=1)
        take = jnp.zeros(cuts.upper.shape[0], bool) if forced is None else forced
        state = (cut, take, ratio(cut, take), jnp.float32(-jnp.inf), jnp.int32(0))
        cut, take, _, _, steps = jax.lax.while_loop(improving, step, state)
    return cut, take, steps


def rows_candidates(rows: Rows, objective: objectives.Objective) -> Candidates:
    """The candidate cuts of ``rows`` for ``objective`` (:func:`candidates_of`; a cut below
    every distinct score where the objective is not monotone)."""
    return candidates_of(
        rows.scores,
        rows.labels,
        rows.weights,
        slots=rows.positive_slots,
        every=not objective.monotone,
    )


@register
@dataclasses.dataclass(frozen=True, eq=False)
class Exact(Method):
    """The exact optimum: per-class thresholds that reach the global maximum of the
    objective on the data (separable averages: each class alone; micro fractions such as
    F-beta or Jaccard: Dinkelbach's method over per-class cuts; micro MCC and micro custom
    objectives: refused). ``apply_thresholds(scores, thresholds)`` reaches ``score``, and
    no thresholds reach more; a class without positives gets a threshold that predicts
    nothing (the float just above its highest score) where nothing scores best. With
    ``bins``, both hold at cell resolution."""

    name = "exact"
    result_type = ExactResult

    objective: objectives.Objective = objective_field()
    average: str = average_field()
    bins: int | None = bins_field()

    @classmethod
    def create(cls, n_classes: int, **values):
        config = super().create(n_classes, **values)
        config.objective.check_exact(config.average, cls.name)
        return config

    def fit_rows(self, rows: Rows) -> ExactResult:
        cuts = rows_candidates(rows, self.objective)
        return exact_from_candidates(cuts, self.objective, average=self.average)

    def fit_histogram(self, histogram: Histogram) -> ExactResult:
        cuts = histogram_candidates(histogram)
        return exact_from_candidates(cuts, self.objective, average=self.average)

    def diagnose(self, result: ExactResult, summary, rows) -> list[str]:
        del summary, rows
        if int(result.steps) >= MAX_DINKELBACH_STEPS:
            return [
                f"exact: the micro search stopped after {MAX_DINKELBACH_STEPS} Dinkelbach "
                "passes without converging: its thresholds may not be the optimum"
            ]
        return []

    def summary(self, result: ExactResult) -> dict:
        return {"score": round(float(result.score), 6), "steps": int(result.steps)}
