"""Constrained thresholds, exact: the thresholds of highest objective (F1 by default) among
those whose per-class precision is at least ``min_precision``, or whose per-class recall is
at least ``min_recall`` (exactly one of the two is given).

The search is the exact one of :mod:`jaxthresh.methods.exact` with the cuts that miss the
constraint left out (the rows' exact weighted counts; sorted order keys, so ties and
subnormal scores are exact): for a monotone objective, of the thresholds that predict a
given set of positive rows the highest predicts the fewest negatives, so it has both the
best precision and the best objective, and the cuts just below the distinct positive
scores are all the search needs; for the others (MCC, utilities, custom ones), every
distinct score. With ``bins``, the cuts are those between histogram cells (at cell
resolution). ``objective="recall", average="macro"`` gives each class its highest recall
at precision >= ``min_precision`` (ties to the higher threshold).

Precision ``TP / PP`` and recall ``TP / P`` are compared as float32 ratios of the exact
counts (correctly rounded, so 4 of 5 meets ``min_precision=0.8``). "Predict nothing"
never meets a constraint: a class where some threshold does takes the best of those (even
where predicting nothing would score more), and a class where none does (or without
positive rows) gets the threshold that predicts nothing (the float just above its highest
score), ``met`` False, and a :class:`jaxthresh.core.diagnostics.FitWarning` naming it.
Micro MCC and micro custom objectives have no exact search and are refused.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import objectives
from jaxthresh.core.cuts import Candidates, thresholds_at
from jaxthresh.core.diagnostics import class_list
from jaxthresh.core.histogram import Histogram, histogram_candidates
from jaxthresh.core.metrics import objective_score
from jaxthresh.core.validation import Rows
from jaxthresh.methods.base import (
    Method,
    average_field,
    bins_field,
    hyperparameter,
    objective_field,
    register,
)
from jaxthresh.methods.exact import best_cuts, chosen_counts, rows_candidates

#: The two constraints, each with the figure it bounds and the figure it maximizes.
CONSTRAINTS = {"min_precision": ("precision", "recall"), "min_recall": ("recall", "precision")}


class ConstrainedResult(NamedTuple):
    """Result of :func:`jaxthresh.fit_constrained`.

    Attributes:
      thresholds: float32[classes] (``scores > thresholds``): the best threshold under the
        constraint, or one that predicts nothing where ``met`` is False.
      met: bool[classes], whether some threshold of the class meets the constraint.
      precision: float32[classes], the precision at the threshold (0 where not met).
      recall: float32[classes], the recall at the threshold (0 where not met).
      score: float32 scalar, the objective the thresholds reach on the fitting data: the
        most any thresholds that meet the constraint (where it can be met) reach.
    """

    thresholds: jax.Array
    met: jax.Array
    precision: jax.Array
    recall: jax.Array
    score: jax.Array


def _ratio(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """float32 ``numerator / denominator``, 0 where the denominator is 0."""
    numerator = numerator.astype(jnp.float32)
    denominator = denominator.astype(jnp.float32)
    return jnp.where(denominator > 0, numerator / jnp.where(denominator > 0, denominator, 1), 0.0)


def constrained_from_candidates(
    cuts: Candidates,
    objective: objectives.Objective,
    average: str,
    *,
    min_precision: jax.Array | None,
    min_recall: jax.Array | None,
) -> ConstrainedResult:
    """The best cuts under the constraint (exactly one of ``min_precision`` and
    ``min_recall`` is given, a float32 scalar) over the candidate cuts
    (:class:`jaxthresh.core.cuts.Candidates`, ``[classes, M]``, highest threshold first):
    the exact search of the objective (:func:`jaxthresh.methods.exact.exact_from_candidates`)
    restricted to the cuts that meet it."""
    precision = _ratio(cuts.true_positives, cuts.predicted)
    recall = _ratio(cuts.true_positives, jnp.broadcast_to(cuts.positives[:, None], precision.shape))
    if min_precision is not None:
        feasible = cuts.valid & (cuts.predicted > 0) & (precision >= min_precision)
    else:
        feasible = cuts.valid & (cuts.positives[:, None] > 0) & (recall >= min_recall)
    cut, met, _ = best_cuts(cuts, objective, average=average, feasible=feasible)
    chosen = chosen_counts(cuts, cut, met)
    return ConstrainedResult(
        thresholds=thresholds_at(cuts, cut, met),
        met=met,
        precision=jnp.where(met, _ratio(chosen.true_positives, chosen.predicted_positives), 0.0),
        recall=jnp.where(met, _ratio(chosen.true_positives, chosen.positives), 0.0),
        score=objective_score(chosen, objective, average),
    )


@register
@dataclasses.dataclass(frozen=True, eq=False)
class Constrained(Method):
    """Constrained thresholds, exact: the highest objective (F1 by default) among the
    thresholds whose per-class precision is at least ``min_precision``, or whose per-class
    recall is at least ``min_recall`` (give exactly one; ``objective="recall",
    average="macro"`` with ``min_precision``: each class's highest recall there). A class
    where no threshold meets the constraint predicts nothing, has ``met`` False and is
    named in a FitWarning. With ``bins``, at cell resolution."""

    name = "constrained"
    result_type = ConstrainedResult

    min_precision: jax.Array | None = hyperparameter(
        "fraction",
        None,
        help="The least precision of every class's threshold, in (0, 1] (give this or min_recall).",
    )
    min_recall: jax.Array | None = hyperparameter(
        "fraction",
        None,
        help="The least recall of every class's threshold, in (0, 1] (give this or min_precision).",
    )
    objective: objectives.Objective = objective_field(
        "The score to maximize among the thresholds that meet the constraint."
    )
    average: str = average_field()
    bins: int | None = bins_field()

    @classmethod
    def create(cls, n_classes: int, **values):
        config = super().create(n_classes, **values)
        config.objective.check_exact(config.average, cls.name)
        given = [name for name in CONSTRAINTS if getattr(config, name) is not None]
        if len(given) != 1:
            got = "both" if given else "neither"
            raise ValueError(
                f"min_precision, min_recall: give exactly one of min_precision and "
                f"min_recall to method 'constrained', got {got}"
            )
        return config

    def _search(self, cuts: Candidates) -> ConstrainedResult:
        return constrained_from_candidates(
            cuts,
            self.objective,
            self.average,
            min_precision=self.min_precision,
            min_recall=self.min_recall,
        )

    def fit_rows(self, rows: Rows) -> ConstrainedResult:
        return self._search(rows_candidates(rows, self.objective))

    def fit_histogram(self, histogram: Histogram) -> ConstrainedResult:
        return self._search(histogram_candidates(histogram))

    def constraint(self) -> tuple[str, float]:
        """``(name, value)`` of the constraint given."""
        name = "min_precision" if self.min_precision is not None else "min_recall"
        return name, float(getattr(self, name))

    def diagnose(self, result: ConstrainedResult, summary, rows) -> list[str]:
        del rows
        # Classes without positive rows are named by the label checks already.
        missed = np.flatnonzero(~np.asarray(result.met) & (np.asarray(summary.positives) > 0))
        if not missed.size:
            return []
        name, value = self.constraint()
        bounded, _ = CONSTRAINTS[name]
        return [
            f"{name}: no threshold reaches {bounded} >= {value:g} in {class_list(missed)}; "
            "their thresholds predict nothing (met is False there)"
        ]

    def summary(self, result: ConstrainedResult) -> dict:
        met = np.asarray(result.met)
        return {
            "classes_met": int(met.sum()),
            "classes_not_met": np.flatnonzero(~met).tolist(),
        }

    def describe(self, summary: dict, n_classes: int, score_name: str) -> str:
        del score_name
        name, value = self.constraint()
        return (
            f"constrained: {summary['classes_met']} of {n_classes} classes reach "
            f"{name.removeprefix('min_')} >= {value:g}"
        )
