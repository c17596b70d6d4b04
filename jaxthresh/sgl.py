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

from jaxthresh import _validation, fused
from jaxthresh._fitting import fit_all_rows
from jaxthresh.histogram import Histogram, cell_centres, score_histogram
from jaxthresh.metrics import Counts, fbeta_from_counts, weighted_counts
from jaxthresh.progress import report
from jaxthresh.surrogate import heaviside


class SGLResult(NamedTuple):
    """Result of :func:`fit_sgl`.

    Attributes:
      thresholds: float32[classes], the learned thresholds.
      slopes: float32[classes], the surrogate slopes (learned if ``learn_slope``).
      history: float32[epochs], the F-beta of ``scores > thresholds`` on the fitting data
        after every epoch (``history[-1]`` is the final thresholds' score). On the
        histogram path (``bins``), at cell resolution: each cell's rows count as at its
        centre, so ``history[-1]`` can differ slightly from the thresholds' exact score.
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


def _autodiff_path(values, positive_weights, weights, average, beta, learn_slope):
    """``(value, value_and_grad)`` of F-beta in ``params``: exact counts for the value,
    autodiff through :func:`jaxthresh.heaviside` for the gradient."""

    def value(params):
        return _weighted_fbeta(values, positive_weights, weights, params[0], None, average, beta)

    def objective(params):
        thresholds, slopes = params
        if not learn_slope:
            slopes = jax.lax.stop_gradient(slopes)
        return _weighted_fbeta(values, positive_weights, weights, thresholds, slopes, average, beta)

    return value, lambda params: (value(params), jax.grad(objective)(params))


def _sum_path(counts_at, gradient_at, positives, average, beta):
    """``(value, value_and_grad)`` of F-beta in ``params`` from per-class sums
    (:mod:`jaxthresh.fused`): exact counts, then the gradient from two weighted sums.

    Args:
      counts_at: ``thresholds -> (true_positives, predicted_positives)``, int32[classes].
      gradient_at: ``(thresholds, slopes, dF/dTP, dF/dPP) -> (dF/dthresholds, dF/dslopes)``.
      positives: int32[classes], the weight of positive rows.
      average, beta: the F-beta (``average`` static).
    """

    def fbeta(true_positives, predicted_positives):
        counts = Counts(true_positives, predicted_positives, positives)
        return fbeta_from_counts(counts, average=average, beta=beta)

    def value(params):
        return fbeta(*counts_at(params[0]))

    def value_and_grad(params):
        thresholds, slopes = params
        counts = counts_at(thresholds)
        as_float = [count.astype(jnp.float32) for count in counts]
        tp_weight, pp_weight = jax.grad(fbeta, argnums=(0, 1))(*as_float)
        return fbeta(*counts), gradient_at(thresholds, slopes, tp_weight, pp_weight)

    return value, value_and_grad


def _fused_path(scores, labels, row_weights, average, beta, learn_slope):
    """``(value, value_and_grad)`` on rows, every sum one pass over the scores."""
    masked, positive_scores, positives = fused.masked_rows(scores, labels, row_weights)
    labels = labels.astype(jnp.float32)

    def gradient_at(thresholds, slopes, tp_weight, pp_weight):
        return fused.fused_gradient(
            masked, labels, thresholds, slopes, tp_weight, pp_weight, learn_slope=learn_slope
        )

    return _sum_path(
        lambda thresholds: fused.fused_counts(masked, positive_scores, thresholds),
        gradient_at,
        positives,
        average,
        beta,
    )


def _histogram_path(histogram: Histogram, average, beta, learn_slope):
    """``(value, value_and_grad)`` on a :class:`jaxthresh.histogram.Histogram`, rows at
    their cell's centre: exact counts by binary search over the centres, the gradient from
    two sums over cells."""
    centres = cell_centres(histogram)

    def suffix_sums(table):  # [classes, cells + 1]: the weight in cells k and above
        total = jnp.cumsum(table[:, ::-1], axis=1)[:, ::-1]
        return jnp.concatenate([total, jnp.zeros_like(total[:, :1])], axis=1)

    above_counts, above_positives = suffix_sums(histogram.counts), suffix_sums(histogram.positives)
    classes = jnp.arange(centres.shape[0])

    def counts_at(thresholds):
        first = jax.vmap(lambda row, t: jnp.searchsorted(row, t, side="right"))(centres, thresholds)
        return above_positives[classes, first], above_counts[classes, first]

    values = centres.T
    positive_weights = histogram.positives.T.astype(jnp.float32)
    weights = histogram.counts.T.astype(jnp.float32)

    def gradient_at(thresholds, slopes, tp_weight, pp_weight):
        return fused.fused_gradient(
            values,
            positive_weights,
            thresholds,
            slopes,
            tp_weight,
            pp_weight,
            learn_slope=learn_slope,
            weights=weights,
        )

    return _sum_path(counts_at, gradient_at, above_positives[:, 0], average, beta)


@functools.partial(
    jax.jit, static_argnames=("epochs", "learn_slope", "average", "bins", "fused_epoch")
)
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
    fused_epoch: bool = True,
) -> SGLResult:
    """The compiled SGLThresh loop on weighted rows; unchecked, vmap-friendly.

    Args:
      scores: float32[n, classes].
      labels: bool[n, classes].
      row_weights: int32[n], row multiplicities (0 drops a row: a cross-validation fold,
        padding). The fused epoch serves weights of 0 and 1; any larger weight sends the
        fit through the autodiff epoch (same thresholds, slower).
      init: float32[classes], initial thresholds.
      slope: float32[classes], initial surrogate slopes.
      learning_rate: float32 scalar, Adam's step size.
      epochs: number of full-batch Adam steps (static).
      learn_slope: whether the slopes are learned alongside the thresholds (static).
      average: "micro" or "macro" (static).
      beta: weight of recall.
      bins: None for the exact path (every epoch reads every score); an int for the
        histogram path (:mod:`jaxthresh.histogram`: one pass builds ``bins`` equal cells
        per class, every epoch then costs O(classes x bins), and ``history`` is at cell
        resolution).
      fused_epoch: on the exact path, compute each epoch from the fused sums of
        :mod:`jaxthresh.fused` (default, fastest on CPU); False differentiates through
        :func:`jaxthresh.heaviside` with autodiff (the reference; same thresholds up to
        float32 rounding).

    Returns:
      :class:`SGLResult`. The fit is a search, not a differentiable function: under
      ``vmap`` fits run one at a time (:func:`jaxthresh.fused.one_at_a_time`), which
      ``jax.grad`` does not go through.
    """
    static = {"epochs": epochs, "learn_slope": learn_slope, "average": average, "bins": bins}
    beta = jnp.asarray(beta, jnp.float32)
    arrays = (scores, labels, row_weights.astype(jnp.int32), init, slope, learning_rate, beta)
    if bins is None and fused_epoch:
        return _fused_fit(**static)(*arrays)
    return _fit(*arrays, fused_epoch=False, **static)


@functools.cache
def _fused_fit(**static):
    """The fused-path fit for one static configuration, run once per batch element under
    ``vmap`` (:func:`jaxthresh.fused.one_at_a_time`)."""
    return fused.one_at_a_time(functools.partial(_fit, fused_epoch=True, **static))


def _fit(
    scores,
    labels,
    row_weights,
    init,
    slope,
    learning_rate,
    beta,
    *,
    epochs,
    learn_slope,
    average,
    bins,
    fused_epoch,
):
    """The body of :func:`sgl_fit_weighted` (same arguments)."""
    if bins is None:

        def ascent(path):
            value, value_and_grad = path()
            return _adam_ascent(value, value_and_grad, init, slope, learning_rate, epochs=epochs)

        def autodiff():
            positive_weights = jnp.where(labels, row_weights[:, None], 0)
            weights = row_weights[:, None]
            return _autodiff_path(scores, positive_weights, weights, average, beta, learn_slope)

        if not fused_epoch:
            return ascent(autodiff)
        # The fused sums drop rows of weight 0 and keep the others once: rows counted more
        # than once (multiplicities) take the autodiff path.
        return jax.lax.cond(
            jnp.all(row_weights <= 1),
            lambda: ascent(
                lambda: _fused_path(scores, labels, row_weights, average, beta, learn_slope)
            ),
            lambda: ascent(autodiff),
        )
    # Built once per fold under vmap (it does not depend on the other hyperparameters); the
    # epochs then run one fit at a time.
    histogram = score_histogram(scores, labels, row_weights, bins=bins)
    static = {"epochs": epochs, "learn_slope": learn_slope, "average": average}
    return _histogram_fit(**static)(histogram, init, slope, learning_rate, beta)


def _adam_ascent(value, value_and_grad, init, slope, learning_rate, *, epochs: int) -> SGLResult:
    """SGLThresh's loop: ``epochs`` full-batch Adam steps up F-beta, in one ``lax.scan``.

    Args:
      value: ``(thresholds, slopes) -> F-beta``.
      value_and_grad: ``(thresholds, slopes) -> (F-beta, (d/d thresholds, d/d slopes))``.
      init: float32[classes], initial thresholds.
      slope: float32[classes], initial slopes.
      learning_rate: Adam's step size.
      epochs: number of steps (static).
    """
    optimizer = optax.adam(learning_rate)
    params = (init, slope)

    def epoch(carry, step):
        params, state = carry
        score, grads = value_and_grad(params)  # the score of the previous epoch's thresholds
        grads = jax.tree.map(jnp.negative, grads)  # ascent on F-beta
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        report("sgl", step + 1, epochs, score)
        return (params, state), score

    (params, _), scores_before = jax.lax.scan(
        epoch, (params, optimizer.init(params)), jnp.arange(epochs)
    )
    history = jnp.concatenate([scores_before[1:], value(params)[None]])
    return SGLResult(params[0], params[1], history)


@functools.partial(jax.jit, static_argnames=("epochs", "learn_slope", "average"))
def sgl_fit_histogram(
    histogram: Histogram,
    init: jax.Array,
    slope: jax.Array,
    learning_rate: jax.Array,
    beta: jax.Array | float = 1.0,
    *,
    epochs: int,
    learn_slope: bool,
    average: str,
) -> SGLResult:
    """SGLThresh on a :class:`jaxthresh.histogram.Histogram` (rows at their cell's centre);
    unchecked, jit- and vmap-friendly (under ``vmap``, one fit at a time). Arguments as in
    :func:`sgl_fit_weighted`."""
    static = {"epochs": epochs, "learn_slope": learn_slope, "average": average}
    return _histogram_fit(**static)(histogram, init, slope, learning_rate, jnp.float32(beta))


@functools.cache
def _histogram_fit(**static):
    """SGLThresh on a histogram for one static configuration; ``vmap`` runs it one fit at a
    time (:func:`jaxthresh.fused.one_at_a_time`): batched reductions are slow on CPU."""

    def fit(histogram, init, slope, learning_rate, beta):
        average, learn_slope = static["average"], static["learn_slope"]
        value, value_and_grad = _histogram_path(histogram, average, beta, learn_slope)
        return _adam_ascent(
            value, value_and_grad, init, slope, learning_rate, epochs=static["epochs"]
        )

    return fused.one_at_a_time(fit)


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
        "bins": _validation.bins(bins, n_classes),
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
      bins: None (default) for the exact path; a number of equal cells per class for the
        histogram path (:mod:`jaxthresh.histogram`; 1024 keeps Table 2 within 0.02 points):
        one pass over the data, then epochs that cost O(classes x bins) whatever the
        number of rows.

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
