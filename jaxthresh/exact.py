"""The exact optimum: per-class thresholds that reach the global maximum of F-beta.

Each class's scores are sorted once (descending); the counts at every cut between two distinct
scores are cumulative sums (:mod:`jaxthresh._cuts`). With ``n`` rows there are at most
``n + 1`` distinct predictions per class, so the search is exhaustive:

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

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import _validation
from jaxthresh._cuts import Cuts, above_all, column_cuts, threshold_between
from jaxthresh._fitting import fit_all_rows
from jaxthresh.histogram import Histogram, histogram_cuts, score_histogram
from jaxthresh.metrics import _fbeta_ratio

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


def _with_nothing_cut(cuts):
    """Prepends the cut that predicts nothing (position 0) to the counts of every column."""
    zeros = jnp.zeros_like(cuts.predicted[:, :1])
    predicted = jnp.concatenate([zeros, cuts.predicted], axis=1)
    true_positives = jnp.concatenate([zeros, cuts.true_positives], axis=1)
    valid = jnp.concatenate([jnp.ones_like(cuts.valid[:, :1]), cuts.valid], axis=1)
    return predicted, true_positives, valid


@functools.partial(jax.jit, static_argnames=("average", "bins"))
def exact_fit_weighted(
    scores: jax.Array,
    labels: jax.Array,
    row_weights: jax.Array,
    beta: jax.Array | float = 1.0,
    *,
    average: str = "micro",
    bins: int | None = None,
) -> ExactResult:
    """The exact optimum on weighted rows; unchecked, jit- and vmap-friendly.

    Args:
      scores: float32[n, classes].
      labels: bool[n, classes].
      row_weights: int32[n], row multiplicities (0 drops a row).
      beta: weight of recall.
      average: "micro" or "macro" (static).
      bins: None for the optimum over the rows; an int for the optimum at the resolution of
        a histogram with this many equal cells per class (:mod:`jaxthresh.histogram`).

    Returns:
      :class:`ExactResult`.
    """
    if bins is not None:
        histogram = score_histogram(scores, labels, row_weights, bins=bins)
        return exact_fit_histogram(histogram, beta, average=average)
    cuts = column_cuts(scores.T, labels.T, row_weights[None, :])
    return exact_from_cuts(cuts, beta, average=average)


@functools.partial(jax.jit, static_argnames=("average",))
def exact_fit_histogram(
    histogram: Histogram, beta: jax.Array | float = 1.0, *, average: str = "micro"
) -> ExactResult:
    """The optimum on a :class:`jaxthresh.histogram.Histogram`, at cell resolution (the
    rows of a cell share one score); unchecked, jit- and vmap-friendly."""
    return exact_from_cuts(histogram_cuts(histogram), beta, average=average)


def exact_from_cuts(cuts: Cuts, beta: jax.Array | float, *, average: str) -> ExactResult:
    """The exact optimum over the cuts of every class (:class:`jaxthresh._cuts.Cuts`, one
    row per class): of the rows themselves, or of a histogram's cells
    (:mod:`jaxthresh.streaming`)."""
    predicted, true_positives, valid = _with_nothing_cut(cuts)
    positives = cuts.true_positives[:, -1]
    columns = jnp.arange(cuts.upper.shape[0])
    beta2 = beta * beta

    def totals(choice):
        return true_positives[columns, choice], predicted[columns, choice]

    if average == "macro":
        per_class = _fbeta_ratio(true_positives, predicted, positives[:, None], beta, 1.0, jnp)
        choice = jnp.argmax(jnp.where(valid, per_class, -jnp.inf), axis=1)
        score = jnp.mean(per_class[columns, choice])
        steps = jnp.int32(1)
    elif average == "micro":
        total_positives = jnp.sum(positives)

        def ratio(choice):
            tp, pp = totals(choice)
            return _fbeta_ratio(jnp.sum(tp), jnp.sum(pp), total_positives, beta, 1.0, jnp)

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


def exact_hyperparameters(
    n_classes: int, *, average: str = "micro", beta: float = 1.0, bins: int | None = None
) -> tuple[dict, dict]:
    """Validates :func:`fit_exact`'s hyperparameters; returns ``(arrays, static)`` keyword
    arguments of :func:`exact_fit_weighted`."""
    arrays = {"beta": np.float32(_validation.positive_float(beta, "beta"))}
    static = {
        "average": _validation.average_name(average),
        "bins": _validation.bins(bins, n_classes),
    }
    return arrays, static


def fit_exact(
    scores, labels, *, average: str = "micro", beta: float = 1.0, bins: int | None = None
) -> ExactResult:
    """Per-class thresholds that reach the global maximum of F-beta on the given data.

    Args:
      scores: float[n, classes].
      labels: 0/1 ``[n, classes]``.
      average: "micro" or "macro".
      beta: weight of recall.
      bins: None (default) for the optimum over the rows, O(n log n) per class; an int for
        the optimum at the resolution of ``bins`` equal cells per class (one pass over the
        rows, then O(bins) per class; :mod:`jaxthresh.histogram`).

    Returns:
      :class:`ExactResult`; ``apply_thresholds(scores, result.thresholds)`` reaches
      ``result.score``, and no thresholds reach more. A class with no positives gets a
      threshold that predicts nothing (its highest score). With ``bins``, both hold at
      cell resolution.
    """
    return fit_all_rows(
        exact_hyperparameters,
        exact_fit_weighted,
        scores,
        labels,
        average=average,
        beta=beta,
        bins=bins,
    )
