"""fit_auto: the method that generalizes best, chosen by inner cross-validation.

Candidates (all fitted on the same inner folds of the data given, never on anything else):

* ``default``: the best single threshold for every class (exact search);
* ``exact``: the per-class thresholds that maximize F-beta on the fitting rows;
* ``shrunk_k``: the exact thresholds shrunk toward the best single threshold by class size,
  ``(P_c * exact_c + k * global) / (P_c + k)`` with ``P_c`` the class's positive rows: a
  class with few positives, whose exact threshold over-fits most, stays near the global
  one (``k`` in :data:`SHRINK_STRENGTHS`);
* ``sgl_a{slope}_lr{rate}``: SGLThresh from the best single threshold, over a small grid of
  slopes and learning rates, on the histogram path (1024 equal cells per class).

Each candidate is scored by its mean held-out F-beta over ``n_folds`` inner folds. The
winner is chosen by the one-standard-error rule: the most regularized candidate (first in
:data:`CANDIDATES`) whose mean is within one standard error (over the inner folds) of the
best mean; it is then refitted on all the rows given. Everything, inner folds and refits
included, is one jit-compiled function of the row weights, so ``fit_auto`` also runs inside
:func:`jaxthresh.cross_validate` (method ``"auto"``), all outer folds in one ``vmap``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import _validation
from jaxthresh._fitting import fit_all_rows
from jaxthresh._folds import fold_ids, fold_weights
from jaxthresh.exact import exact_fit_weighted
from jaxthresh.metrics import thresholded_fbeta
from jaxthresh.sgl import sgl_fit_weighted
from jaxthresh.thresholding import best_global_threshold

SHRINK_STRENGTHS = (10.0, 30.0, 100.0)
SGL_GRID = ((20.0, 1e-2), (50.0, 1e-2), (200.0, 1e-2), (50.0, 3e-2))
SGL_BINS = 1024
SGL_EPOCHS = 100

# From the most regularized to the least (the order the one-standard-error rule prefers).
CANDIDATES = (
    "default",
    *(f"shrunk_{int(k)}" for k in sorted(SHRINK_STRENGTHS, reverse=True)),
    *(f"sgl_a{int(a)}_lr{rate:g}" for a, rate in SGL_GRID),
    "exact",
)


class AutoResult(NamedTuple):
    """Result of :func:`fit_auto`.

    Attributes:
      thresholds: float32[classes], the winner refitted on all the rows given.
      winner: int32 scalar, the winner's index in :data:`CANDIDATES`.
      estimates: float32[candidates], each candidate's mean held-out F-beta over the inner
        folds (the winner's is the estimate of its F-beta on new data).
    """

    thresholds: jax.Array
    winner: jax.Array
    estimates: jax.Array


def _candidates(scores, labels, weights, average, beta) -> jax.Array:
    """Every candidate's thresholds fitted on ``weights``: float32[candidates, classes]."""
    n_classes = scores.shape[1]
    global_threshold, _ = best_global_threshold(scores, labels, weights, average=average, beta=beta)
    shared = jnp.full((n_classes,), global_threshold)
    exact = exact_fit_weighted(scores, labels, weights, beta, average=average).thresholds
    positives = jnp.sum(jnp.where(labels, weights[:, None], 0), axis=0).astype(jnp.float32)
    # A class without positives keeps exact's "predict nothing": shrinking it toward the
    # global threshold would only add false positives.
    shrunk = [
        jnp.where(positives > 0, (positives * exact + k * shared) / (positives + k), exact)
        for k in sorted(SHRINK_STRENGTHS, reverse=True)
    ]
    slopes = jnp.asarray([a for a, _ in SGL_GRID], jnp.float32)
    rates = jnp.asarray([rate for _, rate in SGL_GRID], jnp.float32)
    sgl = jax.vmap(
        lambda slope, rate: (
            sgl_fit_weighted(
                scores,
                labels,
                weights,
                shared,
                jnp.full((n_classes,), slope),
                rate,
                epochs=SGL_EPOCHS,
                learn_slope=True,
                average=average,
                beta=beta,
                bins=SGL_BINS,
            ).thresholds
        )
    )(slopes, rates)
    return jnp.concatenate([jnp.stack([shared, *shrunk]), sgl, exact[None]])


@functools.partial(jax.jit, static_argnames=("n_folds", "average"))
def auto_fit_weighted(
    scores: jax.Array,
    labels: jax.Array,
    row_weights: jax.Array,
    key: jax.Array,
    beta: jax.Array | float = 1.0,
    *,
    n_folds: int = 5,
    average: str = "micro",
) -> AutoResult:
    """fit_auto on weighted rows; unchecked, jit- and vmap-friendly (see :func:`fit_auto`)."""
    row_weights = row_weights.astype(jnp.int32)
    inner = fold_weights(fold_ids(key, scores.shape[0], n_folds), n_folds)

    def held_out_scores(train):
        fitted = _candidates(scores, labels, row_weights * train, average, beta)
        held = row_weights * (1 - train)
        return jax.vmap(
            lambda t: thresholded_fbeta(scores, labels, t, held, average=average, beta=beta)
        )(fitted)

    per_fold = jax.vmap(held_out_scores)(inner)  # [folds, candidates]
    estimates = jnp.mean(per_fold, axis=0)
    best = jnp.argmax(estimates)
    # One-standard-error rule: the most regularized candidate within one standard error
    # of the best one's mean (candidates are ordered from most to least regularized).
    standard_error = jnp.std(per_fold[:, best], ddof=1) / jnp.sqrt(n_folds)
    winner = jnp.argmax(estimates >= estimates[best] - standard_error).astype(jnp.int32)
    thresholds = _candidates(scores, labels, row_weights, average, beta)[winner]
    return AutoResult(thresholds, winner, estimates)


def auto_hyperparameters(
    n_classes: int,
    *,
    inner_folds: int = 5,
    inner_seed: int = 0,
    average: str = "micro",
    beta: float = 1.0,
) -> tuple[dict, dict]:
    """Validates :func:`fit_auto`'s hyperparameters (named ``inner_*`` here, so that they do
    not collide with the outer folds and seed of :func:`jaxthresh.cross_validate`); returns
    ``(arrays, static)`` keyword arguments of :func:`auto_fit_weighted`."""
    del n_classes
    n_folds = _validation.positive_int(inner_folds, "inner_folds")
    if n_folds < 2:
        raise ValueError(f"inner_folds: must be >= 2, got {n_folds}")
    arrays = {
        "key": jax.random.key(_validation.whole_number(inner_seed, "inner_seed")),
        "beta": np.float32(_validation.positive_float(beta, "beta")),
    }
    return arrays, {"n_folds": n_folds, "average": _validation.average_name(average)}


def fit_auto(
    scores, labels, *, n_folds: int = 5, seed: int = 0, average: str = "micro", beta: float = 1.0
) -> AutoResult:
    """Chooses among :data:`CANDIDATES` by inner ``n_folds``-fold cross-validation on the
    data given, then refits the winner on all of it.

    Only ``scores`` and ``labels`` are used: pass validation data, keep evaluation data out.

    Args:
      scores: float[n, classes], n >= n_folds.
      labels: 0/1 ``[n, classes]``.
      n_folds: inner folds.
      seed: seed of the inner fold shuffle.
      average: "micro" or "macro".
      beta: weight of recall.

    Returns:
      :class:`AutoResult`; ``CANDIDATES[int(result.winner)]`` names the winner.
    """
    if np.ndim(scores) == 2:
        _validation.n_folds_for(n_folds, np.shape(scores)[0])  # named as the caller knows it
    return fit_all_rows(
        auto_hyperparameters,
        auto_fit_weighted,
        scores,
        labels,
        inner_folds=n_folds,
        inner_seed=seed,
        average=average,
        beta=beta,
    )
