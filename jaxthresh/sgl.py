"""SGLThresh: per-class thresholds learned by surrogate-gradient ascent on F-beta.

Pellegrini & Masquelier (ICASSP 2021). The forward pass uses the exact step
``1[score > threshold]``; the backward pass the derivative of a sigmoid of slope ``a``
(:func:`jaxthresh.heaviside`). Adam (optax), full batch, every epoch inside one jit-compiled
``lax.scan``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxthresh import _validation
from jaxthresh._fitting import fit_all_rows
from jaxthresh.histogram import score_histogram
from jaxthresh.metrics import fbeta_from_counts, weighted_counts
from jaxthresh.progress import report
from jaxthresh.surrogate import heaviside


class SGLResult(NamedTuple):
    """Result of :func:`fit_sgl`.

    Attributes:
      thresholds: float32[classes], the learned thresholds.
      slopes: float32[classes], the surrogate slopes (learned if ``learn_slope``).
      history: float32[epochs], the F-beta of ``scores > thresholds`` on the fitting data
        after every epoch (``history[-1]`` is the final thresholds' score). On the
        histogram path (``bins``), at bin resolution: each bin's rows count as at its mean
        score, so ``history[-1]`` can differ slightly from the thresholds' exact score.
    """

    thresholds: jax.Array
    slopes: jax.Array
    history: jax.Array


def _weighted_fbeta(values, positive_weights, weights, thresholds, slopes, average, beta):
    """F-beta of ``values > thresholds``, the values standing for rows (or bins of rows)
    with the given weights. ``slopes=None``: exact counts; else exact forward with the
    surrogate gradient."""
    if slopes is None:
        predictions = values > thresholds
    else:
        predictions = heaviside(values - thresholds, slopes)
    counts = weighted_counts(predictions, positive_weights, weights)
    return fbeta_from_counts(counts, average=average, beta=beta)


@functools.partial(jax.jit, static_argnames=("epochs", "learn_slope", "average", "bins"))
def sgl_fit_weighted(
    scores: jax.Array,
    labels: jax.Array,
    row_weights: jax.Array,
    init: jax.Array,
    slope: jax.Array,
    learning_rate: jax.Array,
    *,
    epochs: int,
    learn_slope: bool,
    average: str,
    beta: jax.Array | float = 1.0,
    bins: int | None = None,
) -> SGLResult:
    """The compiled SGLThresh loop on weighted rows; unchecked, vmap-friendly.

    Args:
      scores: float32[n, classes].
      labels: bool[n, classes].
      row_weights: int32[n], row multiplicities (0 drops a row: a cross-validation fold).
      init: float32[classes], initial thresholds.
      slope: float32[classes], initial surrogate slopes.
      learning_rate: float32 scalar, Adam's step size.
      epochs: number of full-batch Adam steps (static).
      learn_slope: whether the slopes are learned alongside the thresholds (static).
      average: "micro" or "macro" (static).
      beta: weight of recall.
      bins: None for the exact path (every epoch reads every score); an int for the
        histogram path (:mod:`jaxthresh.histogram`: one pass builds ``bins`` bins per
        class, every epoch then costs O(classes x bins), and ``history`` is at bin
        resolution).

    Returns:
      :class:`SGLResult`.
    """
    optimizer = optax.adam(learning_rate)
    params = (init, slope)
    row_weights = row_weights.astype(jnp.int32)
    if bins is None:
        values = scores
        weights = row_weights[:, None]
        positive_weights = jnp.where(labels, weights, 0)
    else:
        histogram = score_histogram(scores, labels, row_weights, bins=bins)
        values, weights, positive_weights = (
            histogram.values.T,
            histogram.counts.T,
            histogram.positives.T,
        )

    def loss(params):
        thresholds, slopes = params
        if not learn_slope:
            slopes = jax.lax.stop_gradient(slopes)
        return -_weighted_fbeta(
            values, positive_weights, weights, thresholds, slopes, average, beta
        )

    def epoch(carry, step):
        params, state = carry
        grads = jax.grad(loss)(params)
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        score = _weighted_fbeta(values, positive_weights, weights, params[0], None, average, beta)
        report("sgl", step + 1, epochs, score)
        return (params, state), score

    (params, _), history = jax.lax.scan(epoch, (params, optimizer.init(params)), jnp.arange(epochs))
    return SGLResult(params[0], params[1], history)


def sgl_hyperparameters(
    n_classes: int,
    *,
    init,
    slope=50.0,
    learning_rate: float = 1e-2,
    epochs: int = 100,
    learn_slope: bool = True,
    average: str = "micro",
    beta: float = 1.0,
    bins: int | None = None,
) -> tuple[dict, dict]:
    """Validates SGLThresh's hyperparameters (see :func:`fit_sgl`).

    Returns:
      ``(arrays, static)``: keyword arguments of :func:`sgl_fit_weighted`, the traced ones
      (arrays) and the compile-time ones (static).
    """
    init = _validation.as_per_class(init, n_classes, "init")
    slopes = _validation.as_per_class(slope, n_classes, "slope")
    if (slopes <= 0).any():
        raise ValueError(f"slope: must be > 0, got {slope!r}")
    if not isinstance(learn_slope, bool | np.bool_):
        raise ValueError(f"learn_slope: expected True or False, got {learn_slope!r}")
    arrays = {
        "init": init,
        "slope": slopes,
        "learning_rate": np.float32(_validation.positive_float(learning_rate, "learning_rate")),
        "beta": np.float32(_validation.positive_float(beta, "beta")),
    }
    static = {
        "epochs": _validation.positive_int(epochs, "epochs"),
        "learn_slope": bool(learn_slope),
        "average": _validation.average_name(average),
        "bins": None if bins is None else _validation.positive_int(bins, "bins"),
    }
    return arrays, static


def fit_sgl(
    scores,
    labels,
    *,
    init,
    slope=50.0,
    learning_rate: float = 1e-2,
    epochs: int = 100,
    learn_slope: bool = True,
    average: str = "micro",
    beta: float = 1.0,
    bins: int | None = None,
) -> SGLResult:
    """SGLThresh: learns one threshold per class that maximizes F-beta on the given data.

    Args:
      scores: float[n, classes], classifier scores (e.g. sigmoid outputs).
      labels: 0/1 ``[n, classes]``.
      init: initial threshold, a scalar or float[classes].
      slope: initial sigmoid slope ``a`` of the surrogate gradient, scalar or float[classes].
      learning_rate: Adam's step size.
      epochs: number of full-batch Adam steps.
      learn_slope: learn the slope per class alongside the thresholds, as in the authors' runs.
      average: "micro" or "macro" F-beta.
      beta: weight of recall (1.0 for F1).
      bins: None (default) for the exact path; a number of bins per class for the histogram
        path (:mod:`jaxthresh.histogram`): one pass over the data, then epochs that cost
        O(classes x bins) whatever the number of rows.

    Returns:
      :class:`SGLResult` with thresholds float32[classes], slopes float32[classes] and
      history float32[epochs].
    """
    return fit_all_rows(
        sgl_hyperparameters,
        sgl_fit_weighted,
        scores,
        labels,
        init=init,
        slope=slope,
        learning_rate=learning_rate,
        epochs=epochs,
        learn_slope=learn_slope,
        average=average,
        beta=beta,
        bins=bins,
    )
