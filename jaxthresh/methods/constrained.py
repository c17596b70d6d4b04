"""Constrained objectives, exact: per class, the threshold of highest recall whose precision
is at least ``min_precision``, or the threshold of highest precision whose recall is at
least ``min_recall`` (exactly one of the two is given).

The search runs over the cuts of :mod:`jaxthresh.core.cuts` (the rows' exact weighted
counts; sorted order keys, so ties and subnormal scores are exact): recall changes only
where a threshold crosses a positive score, and of the thresholds that predict a given set
of positive rows, the highest predicts the fewest negatives, so the cut just below each
distinct positive score is, for its recall, the cut of highest precision. No other
threshold can be better under either constraint, and the search over those cuts is
exhaustive. With ``bins``, the cuts are those between histogram cells (at cell resolution).

Precision ``TP / PP`` and recall ``TP / P`` are compared as float32 ratios of the exact
counts (correctly rounded, so 4 of 5 meets ``min_precision=0.8``). Ties are broken the
same way under both constraints: the better constrained figure first (higher recall under
``min_precision``, higher precision under ``min_recall``), then the better other figure,
then the higher threshold (fewer predictions). "Predict nothing" never meets a constraint:
a class where no threshold does (or without positive rows) gets the threshold that
predicts nothing (the float just above its highest score), ``met`` False, and a
:class:`jaxthresh.core.diagnostics.FitWarning` naming it.

The F-beta that :func:`jaxthresh.cross_validate` and ``jaxthresh fit`` report for these
thresholds is micro-F1 (the class attributes ``average`` and ``beta``): the method does not
maximize it.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh.core.cuts import Candidates, thresholds_at
from jaxthresh.core.diagnostics import class_list
from jaxthresh.core.histogram import Histogram, histogram_candidates
from jaxthresh.core.validation import Rows
from jaxthresh.methods.base import Method, bins_field, hyperparameter, register
from jaxthresh.methods.exact import rows_candidates

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
    """

    thresholds: jax.Array
    met: jax.Array
    precision: jax.Array
    recall: jax.Array


def _ratio(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """float32 ``numerator / denominator``, 0 where the denominator is 0."""
    numerator = numerator.astype(jnp.float32)
    denominator = denominator.astype(jnp.float32)
    return jnp.where(denominator > 0, numerator / jnp.where(denominator > 0, denominator, 1), 0.0)


def _first_best(feasible: jax.Array, primary: jax.Array, secondary: jax.Array) -> jax.Array:
    """Per row, the first column (the highest threshold) of the feasible ones with the
    highest ``primary``, then the highest ``secondary``: int32[rows] (0 if none)."""
    best_primary = jnp.max(jnp.where(feasible, primary, -jnp.inf), axis=1, keepdims=True)
    tied = feasible & (primary == best_primary)
    best_secondary = jnp.max(jnp.where(tied, secondary, -jnp.inf), axis=1, keepdims=True)
    return jnp.argmax(tied & (secondary == best_secondary), axis=1).astype(jnp.int32)


def constrained_from_candidates(
    cuts: Candidates, *, min_precision: jax.Array | None, min_recall: jax.Array | None
) -> ConstrainedResult:
    """The best cut of every class under the constraint (exactly one of ``min_precision``
    and ``min_recall`` is given, a float32 scalar) over the candidate cuts
    (:class:`jaxthresh.core.cuts.Candidates`, ``[classes, M]``, highest threshold first)."""
    precision = _ratio(cuts.true_positives, cuts.predicted)
    recall = _ratio(cuts.true_positives, jnp.broadcast_to(cuts.positives[:, None], precision.shape))
    if min_precision is not None:
        feasible = cuts.valid & (cuts.predicted > 0) & (precision >= min_precision)
        choice = _first_best(feasible, recall, precision)
    else:
        feasible = cuts.valid & (cuts.positives[:, None] > 0) & (recall >= min_recall)
        choice = _first_best(feasible, precision, recall)
    met = jnp.any(feasible, axis=1)
    columns = jnp.arange(choice.shape[0])
    return ConstrainedResult(
        thresholds=thresholds_at(cuts, choice, met),
        met=met,
        precision=jnp.where(met, precision[columns, choice], 0.0),
        recall=jnp.where(met, recall[columns, choice], 0.0),
    )


@register
@dataclasses.dataclass(frozen=True, eq=False)
class Constrained(Method):
    """Constrained thresholds, exact: per class, the highest recall at precision >=
    ``min_precision``, or the highest precision at recall >= ``min_recall`` (give exactly
    one). Ties go to the better other figure, then to the higher threshold. A class where
    no threshold meets the constraint predicts nothing, has ``met`` False and is named in
    a FitWarning. With ``bins``, at cell resolution."""

    name = "constrained"
    result_type = ConstrainedResult
    #: The F-beta that cross-validation and the tool report (the fit does not maximize it).
    average: ClassVar[str] = "micro"
    beta: ClassVar[float] = 1.0

    min_precision: jax.Array | None = hyperparameter(
        "fraction",
        None,
        help="Per class, the threshold of highest recall whose precision is at least this, "
        "in (0, 1] (give this or min_recall).",
    )
    min_recall: jax.Array | None = hyperparameter(
        "fraction",
        None,
        help="Per class, the threshold of highest precision whose recall is at least this, "
        "in (0, 1] (give this or min_precision).",
    )
    bins: int | None = bins_field()

    @classmethod
    def create(cls, n_classes: int, **values):
        config = super().create(n_classes, **values)
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
            cuts, min_precision=self.min_precision, min_recall=self.min_recall
        )

    def fit_rows(self, rows: Rows) -> ConstrainedResult:
        return self._search(rows_candidates(rows))

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
