"""fit_auto: the method that generalizes best, chosen by inner cross-validation.

Candidates (all fitted on the same inner folds of the data given, never on anything else):

* ``default``: the best single threshold for every class (exact search);
* ``exact``: the per-class thresholds that maximize the objective on the fitting rows;
* ``shrunk_k``: the exact thresholds shrunk toward the best single threshold by class size,
  ``(P_c * exact_c + k * global) / (P_c + k)`` with ``P_c`` the weight of the class's
  positive rows: a class with few positives, whose exact threshold over-fits most, stays
  near the global one (``k`` in :data:`SHRINK_STRENGTHS`);
* ``sgl_a{slope}_lr{rate}``: SGLThresh from the best single threshold, over a small grid of
  slopes and learning rates, on the histogram path (1024 equal cells per class).

Each candidate is scored by its mean held-out objective over ``inner_folds`` folds (dealt at
random, or by iterative stratification with ``folds="iterative"``). The
winner is chosen by the one-standard-error rule: the most regularized candidate (first in
:data:`CANDIDATES`) whose mean is within one standard error (over the inner folds) of the
best mean; it is then refitted on all the rows given. Everything, inner folds and refits
included, is one traceable function of the rows, so ``auto`` also runs inside
:func:`jaxthresh.cross_validate`. Inner folds run one after the other on CPU
(:func:`jaxthresh.core.batching.map_batch`), so memory does not grow with their number.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh import objectives
from jaxthresh.core import batching, counting
from jaxthresh.core import folds as folding
from jaxthresh.core.metrics import element_weights
from jaxthresh.core.validation import Rows
from jaxthresh.methods.base import (
    Method,
    average_field,
    hyperparameter,
    objective_field,
    register,
)
from jaxthresh.methods.exact import Exact
from jaxthresh.methods.global_threshold import best_threshold_of
from jaxthresh.methods.sgl import SGL

SHRINK_STRENGTHS = (100.0, 30.0, 10.0)
SGL_GRID = ((20.0, 1e-2), (50.0, 1e-2), (200.0, 1e-2), (50.0, 3e-2))
SGL_BINS = 1024
SGL_EPOCHS = 100

#: The candidates, from the most regularized to the least (the order the
#: one-standard-error rule prefers).
CANDIDATES = (
    "default",
    *(f"shrunk_{int(k)}" for k in SHRINK_STRENGTHS),
    *(f"sgl_a{int(a)}_lr{rate:g}" for a, rate in SGL_GRID),
    "exact",
)


class AutoResult(NamedTuple):
    """Result of :func:`jaxthresh.fit_auto`.

    Attributes:
      thresholds: float32[classes], the winner refitted on all the rows given.
      winner: int32 scalar, the winner's index in :data:`CANDIDATES`.
      estimates: float32[candidates], each candidate's mean held-out objective over the inner
        folds (the winner's is the estimate of its objective on new data).
    """

    thresholds: jax.Array
    winner: jax.Array
    estimates: jax.Array


def candidate_thresholds(rows: Rows, objective: objectives.Objective, average: str) -> jax.Array:
    """Every candidate's thresholds fitted on ``rows``: float32[candidates, classes]."""
    n_classes = rows.scores.shape[1]
    global_threshold, _ = best_threshold_of(rows, objective, average)
    shared = jnp.full((n_classes,), global_threshold)
    exact = Exact(objective=objective, average=average, bins=None).fit_rows(rows).thresholds
    positives = jnp.sum(element_weights(rows.labels, rows.weights)[0], axis=0)
    positives = positives.astype(jnp.float32)
    # A class without positives keeps exact's "predict nothing": shrinking it toward the
    # global threshold would only add false positives.
    shrunk = [
        jnp.where(positives > 0, (positives * exact + k * shared) / (positives + k), exact)
        for k in SHRINK_STRENGTHS
    ]
    grid = SGL(
        init=jnp.broadcast_to(shared, (len(SGL_GRID), n_classes)),
        slope=jnp.asarray([[a] * n_classes for a, _ in SGL_GRID], jnp.float32),
        learning_rate=jnp.asarray([rate for _, rate in SGL_GRID], jnp.float32),
        epochs=SGL_EPOCHS,
        learn_slope=True,
        objective=jax.tree.map(lambda c: jnp.broadcast_to(c, (len(SGL_GRID), *c.shape)), objective),
        average=average,
        bins=SGL_BINS,
        kernel=None,
    )
    sgl = jax.vmap(lambda config: config.fit(rows).thresholds)(grid)
    return jnp.concatenate([jnp.stack([shared, *shrunk]), sgl, exact[None]])


@register
@dataclasses.dataclass(frozen=True, eq=False)
class Auto(Method):
    """Chooses among defThresh, shrunk exact thresholds, an SGLThresh grid and the exact
    optimum by inner cross-validation on the data given, then refits the winner on all of
    it. Only the data given is used: pass validation data, keep evaluation data out."""

    name = "auto"
    result_type = AutoResult

    inner_folds: int = hyperparameter(
        "count", 5, minimum=2, help="Inner cross-validation folds (at least 2)."
    )
    key: jax.Array = hyperparameter(
        "key", None, help="The jax.random key of the inner fold shuffle."
    )
    folds: str = hyperparameter(
        "choice",
        "random",
        choices=folding.FOLD_KINDS,
        static=True,
        help="How rows are dealt into the inner folds: random, or iterative (iterative "
        "stratification: every fold gets its share of each class's positive rows).",
    )
    objective: objectives.Objective = objective_field()
    average: str = average_field()

    @classmethod
    def create(cls, n_classes: int, **values):
        config = super().create(n_classes, **values)
        config.objective.check_exact(config.average, cls.name)  # exact is a candidate
        return config

    def check_rows(self, n_rows: int) -> None:
        if n_rows < self.inner_folds:
            raise ValueError(
                f"inner_folds: {self.inner_folds} inner folds need at least {self.inner_folds} "
                f"fitting rows, got {n_rows}"
            )

    def fit_rows(self, rows: Rows) -> AutoResult:
        n_rows, k = rows.scores.shape[0], self.inner_folds
        # Masks of the rows each fit uses: one per inner fold, then all rows (the refit), so
        # that one loop body (and one compiled program) serves every fit.
        masks = jnp.concatenate(
            [
                folding.fitting_masks(folding.assign(self.folds, self.key, rows, k), k),
                jnp.ones((1, n_rows), bool),
            ]
        )

        def fitted_and_scored(fitting):
            fit_rows = rows._replace(weights=folding.masked_weights(rows.weights, fitting))
            held_rows = rows._replace(weights=folding.masked_weights(rows.weights, ~fitting))
            fitted = candidate_thresholds(fit_rows, self.objective, self.average)
            held_out = counting.score_of_thresholds(held_rows, fitted, self.objective, self.average)
            return fitted, held_out

        fitted, held_out = batching.map_batch(fitted_and_scored, masks)
        per_fold = held_out[:k]  # [folds, candidates]; the refit holds nothing out
        estimates = jnp.mean(per_fold, axis=0)
        best = jnp.argmax(estimates)
        # One-standard-error rule: the most regularized candidate within one standard error
        # of the best one's mean (candidates are ordered from most to least regularized).
        standard_error = jnp.std(per_fold[:, best], ddof=1) / jnp.sqrt(k)
        winner = jnp.argmax(estimates >= estimates[best] - standard_error).astype(jnp.int32)
        return AutoResult(fitted[k, winner], winner, estimates)

    def summary(self, result: AutoResult) -> dict:
        winner = int(result.winner)
        return {
            "winner": CANDIDATES[winner],
            "inner_cv_score": round(float(result.estimates[winner]), 6),
        }

    def describe(self, summary: dict, n_classes: int, score_name: str) -> str:
        return (
            f"auto chose {summary['winner']} (inner cross-validated {score_name} "
            f"{100 * summary['inner_cv_score']:.2f}%)"
        )
