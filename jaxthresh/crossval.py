"""k-fold cross-validation of a threshold-fitting method: every fold in one compiled vmap.

Folds are expressed as per-row weights (1 for rows a fold fits on, 0 for the others), so folds
of unequal size share one compiled program and ``vmap`` runs them together.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxthresh import _validation
from jaxthresh.methods import check_hyperparameter_names, get_method
from jaxthresh.metrics import thresholded_fbeta


class CVResult(NamedTuple):
    """Result of :func:`cross_validate`.

    Attributes:
      thresholds: float32[folds, classes], the thresholds fitted with each fold held out.
      fit_f1: float32[folds], F-beta on the rows each fold's thresholds were fitted on.
      heldout_f1: float32[folds], F-beta on the held-out fold.
      fold_ids: int32[n], the fold each row belongs to.
      fits: the method's own result (e.g. :class:`jaxthresh.SGLResult`), every field with a
        leading ``folds`` axis.
    """

    thresholds: jax.Array
    fit_f1: jax.Array
    heldout_f1: jax.Array
    fold_ids: jax.Array
    fits: Any


def fold_ids(key: jax.Array, n_rows: int, n_folds: int) -> jax.Array:
    """Shuffled, balanced fold assignment: int32[n_rows] in [0, n_folds), sizes differ by <= 1.

    Args:
      key: a ``jax.random`` key.
      n_rows: number of rows.
      n_folds: number of folds.
    """
    if n_folds < 1:
        raise ValueError(f"n_folds: must be >= 1, got {n_folds}")
    return (jax.random.permutation(key, n_rows) % n_folds).astype(jnp.int32)


def fold_weights(ids: jax.Array, n_folds: int) -> jax.Array:
    """int32[folds, n]: 1 where a row is used to fit fold ``f`` (it is not in fold ``f``)."""
    return (ids[None, :] != jnp.arange(n_folds)[:, None]).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("method", "static", "n_folds"))
def _cross_validate(scores, labels, ids, arrays, *, method, static, n_folds):
    fit_weighted = get_method(method).fit_weighted
    static = dict(static)
    average = static.get("average", "micro")
    beta = arrays.get("beta", 1.0)

    def score(weights, thresholds):
        return thresholded_fbeta(scores, labels, thresholds, weights, average=average, beta=beta)

    def one_fold(train):
        fit = fit_weighted(scores, labels, train, **arrays, **static)
        return fit, score(train, fit.thresholds), score(1 - train, fit.thresholds)

    fits, fit_f1, heldout_f1 = jax.vmap(one_fold)(fold_weights(ids, n_folds))
    return CVResult(fits.thresholds, fit_f1, heldout_f1, ids, fits)


def cross_validate(
    scores, labels, method: str = "sgl", n_folds: int = 3, seed: int = 0, **hyperparameters
) -> CVResult:
    """k-fold cross-validation of a fitting method, all folds in one compiled ``vmap``.

    Rows are shuffled with ``jax.random.key(seed)`` and dealt into ``n_folds`` folds. For each
    fold, the method is fitted on the other folds and scored on it.

    Args:
      scores: float[n, classes].
      labels: 0/1 ``[n, classes]``.
      method: a registered method name (see :data:`jaxthresh.METHODS`).
      n_folds: number of folds, 2 <= n_folds <= n.
      seed: seed of the shuffle.
      **hyperparameters: keyword arguments of the method (e.g. ``init=0.3`` for "sgl");
        ``average`` and ``beta``, where the method takes them, also choose the reported score.

    Returns:
      :class:`CVResult`.
    """
    scores, labels = _validation.as_scores_and_labels(scores, labels)
    registered = check_hyperparameter_names(method, hyperparameters)
    n_folds = _validation.n_folds_for(n_folds, scores.shape[0])
    seed = _validation.whole_number(seed, "seed")
    arrays, static = registered.hyperparameters(scores.shape[1], **hyperparameters)
    ids = fold_ids(jax.random.key(seed), scores.shape[0], n_folds)
    return _cross_validate(
        scores,
        labels,
        ids,
        arrays,
        method=method,
        static=tuple(sorted(static.items())),
        n_folds=n_folds,
    )
