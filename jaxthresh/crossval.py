"""k-fold cross-validation of a threshold-fitting method: every fold in one compiled vmap.

Folds are expressed as per-row weights (1 for rows a fold fits on, 0 for the others), so folds
of unequal size share one compiled program and ``vmap`` runs them together.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import _validation, fused
from jaxthresh._folds import fold_ids, fold_weights
from jaxthresh.methods import check_hyperparameter_names, check_rows, get_method


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


def _all_folds(scores, labels, ids, arrays, method, static, n_folds) -> CVResult:
    """Every fold of one hyperparameter setting, by ``vmap`` over the folds' row weights."""
    fit_weighted = get_method(method).fit_weighted
    static = dict(static)
    score = fused.split_fbeta(static.get("average", "micro"))
    beta = jnp.float32(arrays.get("beta", 1.0))
    every = fused.masked_rows(scores, labels, jnp.ones(scores.shape[0], jnp.int32))

    def one_fold(train):
        fit = fit_weighted(scores, labels, train, **arrays, **static)
        fitting = fused.masked_rows(scores, labels, train)
        fit_f1, heldout_f1 = score(every, fitting, fit.thresholds, beta)
        return fit, fit_f1, heldout_f1

    fits, fit_f1, heldout_f1 = jax.vmap(one_fold)(fold_weights(ids, n_folds))
    return CVResult(fits.thresholds, fit_f1, heldout_f1, ids, fits)


@functools.partial(jax.jit, static_argnames=("method", "static", "n_folds"))
def _cross_validate(scores, labels, ids, arrays, *, method, static, n_folds):
    return _all_folds(scores, labels, ids, arrays, method, static, n_folds)


@functools.partial(jax.jit, static_argnames=("method", "static", "n_folds"))
def _sweep(scores, labels, ids, arrays, *, method, static, n_folds):
    return jax.vmap(lambda point: _all_folds(scores, labels, ids, point, method, static, n_folds))(
        arrays
    )


def _checked_folds(scores, labels, method, n_folds, seed, hyperparameters):
    """The checks and the shuffled folds shared by :func:`cross_validate` and :func:`sweep`:
    ``(scores, labels, registered method, fold ids, n_folds as an int)``."""
    scores, labels = _validation.as_scores_and_labels(scores, labels)
    registered = check_hyperparameter_names(method, hyperparameters)
    n_folds = _validation.n_folds_for(n_folds, scores.shape[0])
    seed = _validation.whole_number(seed, "seed")
    smallest_fit = scores.shape[0] - -(-scores.shape[0] // n_folds)  # rows minus largest fold
    check_rows(registered, smallest_fit, hyperparameters)
    ids = fold_ids(jax.random.key(seed), scores.shape[0], n_folds)
    return scores, labels, registered, ids, n_folds


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
    scores, labels, registered, ids, n_folds = _checked_folds(
        scores, labels, method, n_folds, seed, hyperparameters
    )
    arrays, static = registered.hyperparameters(scores.shape[1], **hyperparameters)
    return _cross_validate(
        scores,
        labels,
        ids,
        arrays,
        method=method,
        static=tuple(sorted(static.items())),
        n_folds=n_folds,
    )


class SweepResult(NamedTuple):
    """Result of :func:`sweep`: ``points`` hyperparameter settings, each cross-validated.

    Attributes:
      grid: ``{name: values[points]}``, the swept hyperparameters of each point.
      fit_f1: float32[points, folds], F-beta on each fold's fitting rows.
      heldout_f1: float32[points, folds], F-beta on each held-out fold.
      thresholds: float32[points, folds, classes].
      fold_ids: int32[n], the fold of each row (the same folds for every point).
    """

    grid: dict[str, np.ndarray]
    fit_f1: jax.Array
    heldout_f1: jax.Array
    thresholds: jax.Array
    fold_ids: jax.Array


def sweep(
    scores, labels, *, method: str = "sgl", n_folds: int = 3, seed: int = 0, **hyperparameters
) -> SweepResult:
    """Cross-validates every combination of hyperparameter values, in one compiled call.

    A hyperparameter given as a Python list or tuple is swept; anything else (a scalar,
    or an array such as per-class initial thresholds) is fixed. Every combination of the
    swept values, times every fold, runs in one ``jit`` of a ``vmap`` over the points of a
    ``vmap`` over the folds; all points share the same folds. Hyperparameters that shape
    the compiled program (``epochs``, ``average``, ``bins``...) cannot be swept. For
    SGLThresh on large data, ``bins=1024`` (the histogram path) makes each point cost
    O(classes x bins) per epoch.

    Example: ``sweep(s, y, init=0.3, slope=[10, 50, 200], learning_rate=[1e-3, 1e-2])``.

    Args:
      scores: float[n, classes].
      labels: 0/1 ``[n, classes]``.
      method: a registered method name.
      n_folds: number of folds.
      seed: seed of the fold shuffle.
      **hyperparameters: the method's keyword arguments, swept (sequences) or fixed.

    Returns:
      :class:`SweepResult`.
    """
    scores, labels, registered, ids, n_folds = _checked_folds(
        scores, labels, method, n_folds, seed, hyperparameters
    )
    swept = {
        name: list(values)
        for name, values in hyperparameters.items()
        if isinstance(values, list | tuple)
    }
    if not swept:
        raise ValueError("hyperparameters: nothing to sweep; give at least one as a list")
    for name, values in swept.items():
        if not values:
            raise ValueError(f"{name}: the list of values to sweep is empty")
    fixed = {k: v for k, v in hyperparameters.items() if k not in swept}
    points = [
        dict(zip(swept, combination, strict=True))
        for combination in itertools.product(*swept.values())
    ]
    prepared = [registered.hyperparameters(scores.shape[1], **fixed, **p) for p in points]
    static = prepared[0][1]
    for point, (_, point_static) in zip(points, prepared, strict=True):
        changed = [k for k in static if point_static[k] != static[k]]
        if changed:
            raise ValueError(
                f"{changed[0]}: cannot be swept (it fixes the compiled program); got {point}"
            )
    arrays = jax.tree.map(lambda *leaves: jnp.stack(leaves), *[a for a, _ in prepared])
    result = _sweep(
        scores,
        labels,
        ids,
        arrays,
        method=method,
        static=tuple(sorted(static.items())),
        n_folds=n_folds,
    )
    grid = {name: np.asarray([np.asarray(p[name]) for p in points]) for name in swept}
    return SweepResult(grid, result.fit_f1, result.heldout_f1, result.thresholds, ids)
