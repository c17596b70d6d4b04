"""The exact optimum: per-class thresholds that reach the global maximum of F-beta.

Each class's scores are sorted once (descending, :mod:`jaxthresh.core.cuts`); the cuts
worth trying are predicting nothing and the cuts just below each distinct positive score
(any other cut adds negative rows only), each with its exact counts. The search over them
is exhaustive:

* macro: each class alone, the cut of highest F-beta;
* micro: the classes are coupled only through the totals of the ratio
  ``(1+b^2) TP / (PP + b^2 P)``. For a fixed ratio value ``lam``, Dinkelbach's method
  maximizes ``(1+b^2) TP - lam PP``, which splits into one independent choice of cut per
  class; setting ``lam`` to the ratio reached and repeating increases ``lam`` strictly until
  no cut improves it, which is the global maximum (a few passes in practice).

Among equally good cuts of a class, macro prefers fewer predictions (a higher threshold);
micro returns one of the optima.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh.core.cuts import Candidates, candidates_of, thresholds_at
from jaxthresh.core.histogram import Histogram, histogram_candidates
from jaxthresh.core.metrics import fbeta_ratio
from jaxthresh.core.reductions import argmax_first
from jaxthresh.core.validation import Rows
from jaxthresh.methods.base import Method, average_field, beta_field, bins_field, register

#: Dinkelbach passes before the micro search stops (it converges in a few; a fit that
#: reaches this reports ``steps == MAX_DINKELBACH_STEPS`` and is warned about).
MAX_DINKELBACH_STEPS = 100


class ExactResult(NamedTuple):
    """Result of :func:`fit_exact`.

    Attributes:
      thresholds: float32[classes], optimal thresholds (``scores > thresholds``).
      score: float32 scalar, the F-beta they reach on the fitting data: the maximum.
      steps: int32 scalar, Dinkelbach passes (micro; 1 for macro).
    """

    thresholds: jax.Array
    score: jax.Array
    steps: jax.Array


def exact_from_candidates(
    cuts: Candidates, beta: jax.Array | float, *, average: str
) -> ExactResult:
    """The exact optimum over the candidate cuts of every class
    (:class:`jaxthresh.core.cuts.Candidates`, one row per class; "predict nothing" is
    tried besides them, and wins ties): of the rows themselves, or of a histogram's
    cells."""
    positives = cuts.positives
    columns = jnp.arange(cuts.upper.shape[0])
    beta2 = beta * beta

    if average == "macro":
        per_class = fbeta_ratio(cuts.true_positives, cuts.predicted, positives[:, None], beta)
        per_class = jnp.where(cuts.valid, per_class, -jnp.inf)
        cut = argmax_first(per_class, axis=1)
        best = per_class[columns, cut]
        nothing = fbeta_ratio(jnp.zeros_like(positives), jnp.zeros_like(positives), positives, beta)
        take = best > nothing
        score = jnp.mean(jnp.where(take, best, nothing))
        steps = jnp.int32(1)
    elif average == "micro":
        total_positives = jnp.sum(positives)

        def ratio(cut, take):
            true_positives = jnp.where(take, cuts.true_positives[columns, cut], 0)
            predicted = jnp.where(take, cuts.predicted[columns, cut], 0)
            return fbeta_ratio(jnp.sum(true_positives), jnp.sum(predicted), total_positives, beta)

        def best_cut(lam):
            # Dinkelbach: maximize (1 + beta^2) TP - lam * PP class by class; predicting
            # nothing gains 0 and wins ties.
            gain = (1.0 + beta2) * cuts.true_positives.astype(jnp.float32) - lam * (
                cuts.predicted.astype(jnp.float32)
            )
            gain = jnp.where(cuts.valid, gain, -jnp.inf)
            cut = argmax_first(gain, axis=1)
            return cut, gain[columns, cut] > 0

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

        # Start from "predict nothing": ratio 0 (or 1 when there is nothing to find).
        cut = jnp.zeros(cuts.upper.shape[0], jnp.int32)
        take = jnp.zeros(cuts.upper.shape[0], bool)
        state = (cut, take, ratio(cut, take), jnp.float32(-1.0), jnp.int32(0))
        cut, take, score, _, steps = jax.lax.while_loop(improving, step, state)
    else:
        raise ValueError(f"average: must be one of micro, macro; got {average!r}")

    return ExactResult(thresholds_at(cuts, cut, take), score, steps)


def rows_candidates(rows: Rows) -> Candidates:
    """The candidate cuts of ``rows`` (:func:`jaxthresh.core.cuts.candidates_of`)."""
    return candidates_of(rows.scores, rows.labels, rows.weights, slots=rows.positive_slots)


@register
@dataclasses.dataclass(frozen=True, eq=False)
class Exact(Method):
    """The exact optimum: per-class thresholds that reach the global maximum of F-beta on
    the data (macro: each class alone; micro: Dinkelbach's method over per-class cuts).
    ``apply_thresholds(scores, thresholds)`` reaches ``score``, and no thresholds reach
    more; a class without positives gets a threshold that predicts nothing (the float just
    above its highest score). With ``bins``, both hold at cell resolution."""

    name = "exact"
    result_type = ExactResult

    average: str = average_field()
    beta: jax.Array = beta_field()
    bins: int | None = bins_field()

    def fit_rows(self, rows: Rows) -> ExactResult:
        return exact_from_candidates(rows_candidates(rows), self.beta, average=self.average)

    def fit_histogram(self, histogram: Histogram) -> ExactResult:
        cuts = histogram_candidates(histogram)
        return exact_from_candidates(cuts, self.beta, average=self.average)

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
