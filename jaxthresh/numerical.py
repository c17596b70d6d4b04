"""numThresh (Kong et al.): Adam on finite-difference gradients of F-beta.

For each class ``c``, the gradient is the change in F-beta when its threshold alone moves up
by ``step``, retried with ``2 step``, ``3 step``, ... up to ``max_search`` steps while F-beta
does not change, divided by the distance moved (0 if it never changes). Adam ascends it.

The published form re-scores the whole data set for every class and every retry:
O(n * classes^2 * max_search) per epoch. Here F-beta depends on the other classes only
through totals (micro) or a sum (macro), so the per-class counts at the ``max_search + 1``
shifted thresholds give every class's moved score at once, with the same values as the
definition. Those counts are exact binary searches in each class's scores, sorted once
(:func:`jaxthresh._cuts.counts_above`): O(n log n * classes) once, then
O(classes * max_search * log n) per epoch. All epochs run in one ``lax.scan``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxthresh import _validation
from jaxthresh._cuts import Cuts, column_cuts, counts_above
from jaxthresh._fitting import fit_all_rows
from jaxthresh.histogram import Histogram, histogram_cuts, score_histogram
from jaxthresh.metrics import _fbeta_ratio, fbeta_from_counts
from jaxthresh.progress import report


class NumericalResult(NamedTuple):
    """Result of :func:`fit_numerical`.

    Attributes:
      thresholds: float32[classes].
      history: float32[epochs], F-beta on the fitting data after every epoch.
    """

    thresholds: jax.Array
    history: jax.Array


def moved_scores(counts, average: str, beta) -> jax.Array:
    """F-beta when one class's threshold alone moves, from per-class counts.

    Args:
      counts: :class:`jaxthresh.Counts` with fields ``[moves, classes]``; row 0 holds the
        counts at the current thresholds, row ``j`` those of every class moved by move ``j``.
      average: "micro" or "macro".
      beta: weight of recall.

    Returns:
      float32[moves, classes]: entry ``[j, c]`` is the score with class ``c`` moved by move
      ``j`` and every other class where it is (row 0: the current score, repeated).
    """
    tp, pp, positives = counts
    if average == "micro":
        total_tp = jnp.sum(tp[0]) - tp[0] + tp
        total_pp = jnp.sum(pp[0]) - pp[0] + pp
        return _fbeta_ratio(total_tp, total_pp, jnp.sum(positives[0]), beta, 1.0, jnp)
    per_class = _fbeta_ratio(tp, pp, positives, beta, 1.0, jnp)
    return (jnp.sum(per_class[0]) - per_class[0] + per_class) / tp.shape[-1]


def finite_difference_gradient(moved: jax.Array, step) -> jax.Array:
    """Per-class numThresh gradient from :func:`moved_scores` ``[max_search + 1, classes]``:
    the first non-zero change over its distance ``j * step``, or 0."""
    change = moved[1:] - moved[:1]
    changed = change != 0
    first = jnp.argmax(changed, axis=0)
    columns = jnp.arange(moved.shape[1])
    distance = (first + 1).astype(jnp.float32) * step
    return jnp.where(jnp.any(changed, axis=0), change[first, columns] / distance, 0.0)


@functools.partial(jax.jit, static_argnames=("epochs", "max_search", "average", "bins"))
def numerical_fit_weighted(
    scores: jax.Array,
    labels: jax.Array,
    row_weights: jax.Array,
    init: jax.Array,
    learning_rate: jax.Array,
    step: jax.Array,
    beta: jax.Array | float = 1.0,
    *,
    epochs: int,
    max_search: int,
    average: str,
    bins: int | None = None,
) -> NumericalResult:
    """numThresh on weighted rows; unchecked, jit- and vmap-friendly (see
    :func:`fit_numerical`)."""
    if bins is None:
        cuts = column_cuts(scores.T, labels.T, row_weights[None, :])
    else:
        cuts = histogram_cuts(score_histogram(scores, labels, row_weights, bins=bins))
    return numerical_from_cuts(
        cuts,
        init,
        learning_rate,
        step,
        beta,
        epochs=epochs,
        max_search=max_search,
        average=average,
    )


@functools.partial(jax.jit, static_argnames=("epochs", "max_search", "average"))
def numerical_fit_histogram(
    histogram: Histogram,
    init: jax.Array,
    learning_rate: jax.Array,
    step: jax.Array,
    beta: jax.Array | float = 1.0,
    *,
    epochs: int,
    max_search: int,
    average: str,
) -> NumericalResult:
    """numThresh on a :class:`jaxthresh.histogram.Histogram`, at cell resolution;
    unchecked, jit- and vmap-friendly."""
    return numerical_from_cuts(
        histogram_cuts(histogram),
        init,
        learning_rate,
        step,
        beta,
        epochs=epochs,
        max_search=max_search,
        average=average,
    )


def numerical_from_cuts(
    cuts: Cuts,
    init: jax.Array,
    learning_rate: jax.Array,
    step: jax.Array,
    beta: jax.Array | float,
    *,
    epochs: int,
    max_search: int,
    average: str,
) -> NumericalResult:
    """numThresh with counts looked up in :class:`jaxthresh._cuts.Cuts` (one row per
    class): of the rows themselves, or of a histogram's cells (:mod:`jaxthresh.streaming`)."""
    optimizer = optax.adam(learning_rate)
    moves = step * jnp.arange(max_search + 1, dtype=jnp.float32)[:, None]

    def counts_at(thresholds):
        return jax.vmap(lambda move: counts_above(cuts, thresholds + move))(moves)

    def epoch(carry, index):
        thresholds, state = carry
        moved = moved_scores(counts_at(thresholds), average, beta)
        gradient = finite_difference_gradient(moved, step)
        updates, state = optimizer.update(-gradient, state, thresholds)
        report("numerical", index + 1, epochs, moved[0, 0])
        return (optax.apply_updates(thresholds, updates), state), moved[0, 0]

    (thresholds, _), before = jax.lax.scan(epoch, (init, optimizer.init(init)), jnp.arange(epochs))
    final = fbeta_from_counts(counts_above(cuts, thresholds), average=average, beta=beta)
    # The score before epoch i + 1 is the score after epoch i.
    return NumericalResult(thresholds, jnp.concatenate([before[1:], final[None]]))


def numerical_hyperparameters(
    n_classes: int,
    *,
    init,
    learning_rate: float = 1e-2,
    epochs: int = 100,
    step: float = 0.01,
    max_search: int = 10,
    average: str = "micro",
    beta: float = 1.0,
    bins: int | None = None,
) -> tuple[dict, dict]:
    """Validates :func:`fit_numerical`'s hyperparameters; returns ``(arrays, static)``
    keyword arguments of :func:`numerical_fit_weighted`."""
    arrays = {
        "init": _validation.as_per_class(init, n_classes, "init"),
        "learning_rate": np.float32(_validation.positive_float(learning_rate, "learning_rate")),
        "step": np.float32(_validation.positive_float(step, "step")),
        "beta": np.float32(_validation.positive_float(beta, "beta")),
    }
    static = {
        "epochs": _validation.positive_int(epochs, "epochs"),
        "max_search": _validation.positive_int(max_search, "max_search"),
        "average": _validation.average_name(average),
        "bins": _validation.bins(bins, n_classes),
    }
    return arrays, static


def fit_numerical(
    scores,
    labels,
    *,
    init,
    learning_rate: float = 1e-2,
    epochs: int = 100,
    step: float = 0.01,
    max_search: int = 10,
    average: str = "micro",
    beta: float = 1.0,
    bins: int | None = None,
) -> NumericalResult:
    """numThresh: Adam ascent on finite-difference F-beta gradients (Kong et al.).

    Args:
      scores: float[n, classes].
      labels: 0/1 ``[n, classes]``.
      init: initial threshold, a scalar or float[classes].
      learning_rate: Adam's step size.
      epochs: number of full-batch Adam steps.
      step: threshold increment of the finite difference.
      max_search: the most increments tried while F-beta does not change.
      average: "micro" or "macro".
      beta: weight of recall.
      bins: None (default) to count on the rows; an int to count at the resolution of
        ``bins`` equal cells per class (one pass over the rows; :mod:`jaxthresh.histogram`).

    Returns:
      :class:`NumericalResult`.
    """
    return fit_all_rows(
        numerical_hyperparameters,
        numerical_fit_weighted,
        scores,
        labels,
        init=init,
        learning_rate=learning_rate,
        epochs=epochs,
        step=step,
        max_search=max_search,
        average=average,
        beta=beta,
        bins=bins,
    )
