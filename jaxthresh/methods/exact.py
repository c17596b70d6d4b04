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

from jaxthresh.core.cuts import Candidates, above_all, candidates, sorted_keys, threshold_between
from jaxthresh.core.histogram import Histogram, histogram_candidates
from jaxthresh.core.metrics import fbeta_ratio
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


def _with_nothing_cut(cuts: Candidates):
    """Prepends the cut that predicts nothing (position 0) to the counts of every column."""
    zeros = jnp.zeros_like(cuts.predicted[:, :1])
    predicted = jnp.concatenate([zeros, cuts.predicted], axis=1)
    true_positives = jnp.concatenate([zeros, cuts.true_positives], axis=1)
    valid = jnp.concatenate([jnp.ones_like(cuts.valid[:, :1]), cuts.valid], axis=1)
    return predicted, true_positives, valid


def exact_from_candidates(
    cuts: Candidates, beta: jax.Array | float, *, average: str
) -> ExactResult:
    """The exact optimum over the candidate cuts of every class
    (:class:`jaxthresh.core.cuts.Candidates`, one row per class): of the rows themselves,
    or of a histogram's cells."""
    predicted, true_positives, valid = _with_nothing_cut(cuts)
    positives = cuts.positives
    columns = jnp.arange(cuts.upper.shape[0])
    beta2 = beta * beta

    def totals(choice):
        return true_positives[columns, choice], predicted[columns, choice]

    if average == "macro":
        per_class = fbeta_ratio(true_positives, predicted, positives[:, None], beta)
        choice = jnp.argmax(jnp.where(valid, per_class, -jnp.inf), axis=1)
        score = jnp.mean(per_class[columns, choice])
        steps = jnp.int32(1)
    elif average == "micro":
        total_positives = jnp.sum(positives)

        def ratio(choice):
            tp, pp = totals(choice)
            return fbeta_ratio(jnp.sum(tp), jnp.sum(pp), total_positives, beta)

        def best_choice(lam):
            gain = (1.0 + beta2) * true_positives.astype(jnp.float32) - lam * predicted.astype(
                jnp.float32
            )
            return jnp.argmax(jnp.where(valid, gain, -jnp.inf), axis=1)

        def improving(state):
            _, lam, previous, steps = state
            return (lam > previous) & (steps < MAX_DINKELBACH_STEPS)

        def step(state):
            choice, lam, _, steps = state
            new_choice = best_choice(lam)
            new_lam = ratio(new_choice)
            better = new_lam > lam
            return jnp.where(better, new_choice, choice), jnp.maximum(new_lam, lam), lam, steps + 1

        # Start from "predict nothing": ratio 0 (or 1 when there is nothing to find).
        start = jnp.zeros(cuts.upper.shape[0], jnp.int32)
        state = (start, ratio(start), jnp.float32(-1.0), jnp.int32(0))
        choice, score, _, steps = jax.lax.while_loop(improving, step, state)
    else:
        raise ValueError(f"average: must be one of micro, macro; got {average!r}")

    # Position `choice` of the padded counts is cut `choice - 1`; 0 predicts nothing.
    cut = jnp.maximum(choice - 1, 0)
    threshold = threshold_between(cuts.upper[columns, cut], cuts.lower[columns, cut])
    thresholds = jnp.where(choice == 0, above_all(cuts.highest), threshold)
    return ExactResult(thresholds, score, steps)


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
        sorted = sorted_keys(rows.scores, rows.labels, rows.weights, slots=rows.positive_slots)
        return exact_from_candidates(candidates(sorted), self.beta, average=self.average)

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
