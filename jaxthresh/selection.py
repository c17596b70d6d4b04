"""Model selection: k-fold cross-validation of a method, and sweeps of its hyperparameters.

Folds are per-row weights over one shared copy of the data (:mod:`jaxthresh.core.folds`),
dealt at random or by iterative stratification (``folds="iterative"``): for each fold the
method is fitted on the other folds and scored on it, from exact counts.
A sweep stacks the configurations of every combination of hyperparameter values along a
batch axis (their traced fields; the static ones must agree) and cross-validates each on
the same folds; cross-validation is a sweep of one point. Everything is one compiled call.
Points and folds run one after the other on CPU, where memory then holds one fold's work
at a time, and as one ``vmap`` elsewhere (:func:`jaxthresh.core.batching.map_batch`).
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import sharding
from jaxthresh.core import batching, counting, validation
from jaxthresh.core import folds as folding
from jaxthresh.core import progress as progress_reports
from jaxthresh.core.histogram import score_histogram
from jaxthresh.core.validation import Rows
from jaxthresh.methods import configure, get_method


class ThresholdSpread(NamedTuple):
    """How much each class's threshold moves across the folds of a cross-validation
    (:meth:`CVResult.threshold_spread`); every field float32[classes].

    Attributes:
      mean: the mean of the folds' thresholds.
      std: their standard deviation (ddof=1: an estimate over resampled fitting sets).
      low: the lowest.
      high: the highest; ``high - low`` is the range.
    """

    mean: jax.Array
    std: jax.Array
    low: jax.Array
    high: jax.Array


class CVResult(NamedTuple):
    """Result of :func:`cross_validate`.

    Attributes:
      thresholds: float32[folds, classes], the thresholds fitted with each fold held out.
      fit_score: float32[folds], the method's objective (averaged as its ``average``) on the
        rows each fold's thresholds were fitted on.
      heldout_score: float32[folds], the objective on the held-out fold.
      fold_ids: int32[n], the fold each row belongs to.
      fits: the method's own result (e.g. :class:`jaxthresh.SGLResult`), every field with a
        leading ``folds`` axis.
    """

    thresholds: jax.Array
    fit_score: jax.Array
    heldout_score: jax.Array
    fold_ids: jax.Array
    fits: Any

    def threshold_spread(self) -> ThresholdSpread:
        """How much each class's threshold moves across folds: :class:`ThresholdSpread`
        (mean, standard deviation, lowest and highest over the folds), per class. A class
        whose threshold moves much is one whose threshold over-fits its fitting rows (few
        positives, or a flat objective); a fold where a class has no positive row leaves it
        at "predict nothing" (above its highest score), which shows here too."""
        thresholds = jnp.asarray(self.thresholds, jnp.float32)
        return ThresholdSpread(
            jnp.mean(thresholds, axis=0),
            jnp.std(thresholds, axis=0, ddof=1),
            jnp.min(thresholds, axis=0),
            jnp.max(thresholds, axis=0),
        )


class SweepResult(NamedTuple):
    """Result of :func:`sweep`: ``points`` hyperparameter settings, each cross-validated.

    Attributes:
      grid: ``{name: values[points]}``, the swept hyperparameters of each point (as
        ``thresholds.json`` records them: keys as their key data).
      fit_score: float32[points, folds], the objective on each fold's fitting rows.
      heldout_score: float32[points, folds], the objective on each held-out fold.
      thresholds: float32[points, folds, classes].
      fold_ids: int32[n], the fold of each row (the same folds for every point).
    """

    grid: dict[str, np.ndarray]
    fit_score: jax.Array
    heldout_score: jax.Array
    thresholds: jax.Array
    fold_ids: jax.Array


def _score(config, rows: Rows, thresholds: jax.Array) -> jax.Array:
    return counting.score_of_thresholds(rows, thresholds[None], config.objective, config.average)[0]


def fit_and_score_splits(
    configs,
    rows: Rows,
    fitting: jax.Array,
    held_out: jax.Array,
    n_points: int,
    progress: bool,
    chunk: int | None = None,
):
    """Every point (the leading axis of ``configs``) fitted on every split of the rows and
    scored on the split's fitting and held-out rows: ``(fits, fit_score, held_score)``
    with leading axes ``[points, splits]``.

    A split is two row factors over the one shared copy of the rows: ``fitting`` (bool
    ``[splits, n]``, the rows in, as folds; or int32 multiplicities, as bootstrap
    resamples; they scale the rows' own weights, :func:`jaxthresh.core.folds.scaled_weights`)
    and ``held_out`` (bool ``[splits, n]``). Splits are the outer loop, so that what a
    split's fits share is built once per split: with ``bins`` (static, the same for every
    point), the histogram of its fitting rows, which every point then fits on
    (``Method.fit_on_histogram``, what ``Method.fit`` does with ``bins``). ``chunk``: on
    accelerators, splits batched by ``vmap`` that many at a time (None: all at once)."""
    bins = configs.bins

    def one_split(split):
        fitting, held_out = split
        fit_rows = rows._replace(weights=folding.scaled_weights(rows.weights, fitting))
        held_rows = rows._replace(weights=folding.masked_weights(rows.weights, held_out))
        histogram = None if bins is None else score_histogram(fit_rows, bins=bins)

        def one_point(config):
            if histogram is None:
                fitted = config.fit(fit_rows)
            else:
                fitted = config.fit_on_histogram(histogram)
            thresholds = fitted.thresholds
            return (
                fitted,
                _score(config, fit_rows, thresholds),
                _score(config, held_rows, thresholds),
            )

        return batching.map_batch(one_point, configs, length=n_points)

    with progress_reports.reporting(progress):
        by_split = batching.map_batch(one_split, (fitting, held_out), chunk=chunk)
    return jax.tree.map(lambda leaf: jnp.swapaxes(leaf, 0, 1), by_split)


@batching.jit(static_argnames=("n_folds", "n_points", "progress"))
def _cross_validate_points(
    configs, rows: Rows, ids: jax.Array, n_folds: int, n_points: int, progress: bool
):
    """Every point times every fold (:func:`fit_and_score_splits` of the folds)."""
    masks = folding.fitting_masks(ids, n_folds)
    return fit_and_score_splits(configs, rows, masks, ~masks, n_points, progress)


def _prepared(scores, labels, sample_weight, method, n_folds, fold_key, kind, hyperparameters):
    """The checks and the folds shared by :func:`cross_validate` and :func:`sweep`:
    ``(rows, fold ids, n_folds, fewest fitting rows)``."""
    method, sample_weight = validation.method_and_weights(method, sample_weight)
    rows = validation.as_rows(scores, labels, sample_weight)
    get_method(method)
    n_rows = rows.scores.shape[0]
    n_folds = validation.n_folds_for(n_folds, n_rows)
    if isinstance(kind, str):
        validation.choice(kind, folding.FOLD_KINDS, "folds")
        if "folds" in get_method(method).hyperparameters():  # auto: its inner folds too
            hyperparameters["folds"] = kind
        key = jax.random.key(0) if fold_key is None else validation.prng_key(fold_key, "fold_key")
        ids = folding.assign(kind, key, rows, n_folds)
    else:
        ids = folding.given_fold_ids(kind, n_rows, n_folds)
    if rows.sample_weight is not None and not validation.is_traced(ids, rows):
        folding.check_fold_weights(ids, rows.sample_weight, n_folds)
    largest = folding.largest_fold(n_rows, n_folds)
    if not validation.is_traced(ids):  # iterative folds may differ by more than one row
        largest = int(np.bincount(validation.host_array(ids), minlength=n_folds).max())
        ids = sharding.like_rows(ids, rows)
    return method, rows, ids, n_folds, n_rows - largest


def cross_validate(
    scores,
    labels,
    method: str = "sgl",
    sample_weight=None,
    *,
    n_folds: int = 3,
    fold_key=None,
    folds: str = "random",
    progress: bool = False,
    **hyperparameters,
) -> CVResult:
    """k-fold cross-validation of a fitting method, all folds in one compiled call.

    Rows are shuffled with ``fold_key`` and dealt into ``n_folds`` folds: at random
    (sizes differ by at most one), or by iterative stratification, so that every fold
    holds its share of each class's positive rows (:mod:`jaxthresh.core.folds`). For each
    fold, the method is fitted on the other folds and scored on it. Works inside ``jit``
    and ``vmap``.

    Args:
      scores: real ``[n, classes]``, NumPy or JAX.
      labels: 0/1 or bool ``[n, classes]``.
      method: a registered method name (see :data:`jaxthresh.METHODS`); it may also
        come after the weights: ``f(*jaxthresh.shard_rows(s, y), "sgl")``.
      sample_weight: None, or non-negative weights of rows ``[n]`` or labels
        ``[n, classes]`` (see ``fit_sgl``).
      n_folds: number of folds, 2 <= n_folds <= n.
      fold_key: the ``jax.random`` key of the shuffle; None for ``jax.random.key(0)``.
      folds: "random", or "iterative" (Sechidis et al. 2011: rare classes in every fold;
        on the host with NumPy for concrete labels, a ``lax.while_loop`` under ``jit``).
        A method with inner folds of its own (``auto``) deals them the same way. Or the
        fold of every row, ints ``[n]`` in ``[0, n_folds)`` (a scikit-learn splitter's
        test folds, for instance).
      progress: log the progress of long loops.
      **hyperparameters: the method's keyword arguments (e.g. ``init=0.3`` for "sgl");
        its ``objective`` and ``average`` also choose the reported score.

    Returns:
      :class:`CVResult`; ``threshold_spread()`` says how much each class's threshold
      moves across the folds.
    """
    method, rows, ids, n_folds, smallest = _prepared(
        scores, labels, sample_weight, method, n_folds, fold_key, folds, hyperparameters
    )
    n_classes = rows.scores.shape[1]
    config = configure(method, n_classes, smallest, **hyperparameters)
    configs = jax.tree.map(lambda leaf: jnp.asarray(leaf)[None], config)
    fits, fit_score, heldout_score = _cross_validate_points(
        configs, rows, ids, n_folds, 1, bool(progress)
    )
    fits = jax.tree.map(lambda leaf: leaf[0], fits)
    return CVResult(fits.thresholds, fit_score[0], heldout_score[0], ids, fits)


def sweep(
    scores,
    labels,
    method: str = "sgl",
    sample_weight=None,
    *,
    n_folds: int = 3,
    fold_key=None,
    folds: str = "random",
    progress: bool = False,
    **hyperparameters,
) -> SweepResult:
    """Cross-validates every combination of hyperparameter values, in one compiled call.

    A hyperparameter given as a Python list or tuple is swept; anything else (a scalar,
    or an array such as per-class initial thresholds) is fixed. Every combination of the
    swept values, times every fold, runs in one compiled call; all points share the same
    folds. Hyperparameters that shape the compiled program (``epochs``, ``average``,
    ``bins``...) cannot be swept. For SGLThresh on large data, ``bins=1024`` (the
    histogram path) makes each point cost O(classes x bins) per epoch.

    Example: ``sweep(s, y, init=0.3, slope=[10, 50, 200], learning_rate=[1e-3, 1e-2])``.

    Args:
      scores: real ``[n, classes]``.
      labels: 0/1 or bool ``[n, classes]``.
      method: a registered method name; it may also come after the weights:
        ``f(*jaxthresh.shard_rows(s, y), "sgl")``.
      sample_weight: None, or non-negative weights of rows ``[n]`` or labels ``[n, classes]``.
      n_folds: number of folds.
      fold_key: the ``jax.random`` key of the shuffle; None for ``jax.random.key(0)``.
      folds: "random" or "iterative" (see :func:`cross_validate`).
      progress: log the progress of long loops.
      **hyperparameters: the method's keyword arguments, swept (lists) or fixed.

    Returns:
      :class:`SweepResult`.
    """
    method, rows, ids, n_folds, smallest = _prepared(
        scores, labels, sample_weight, method, n_folds, fold_key, folds, hyperparameters
    )
    n_classes = rows.scores.shape[1]
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
    configs = [configure(method, n_classes, smallest, **fixed, **point) for point in points]
    declared = get_method(method).hyperparameters()
    for name, values in swept.items():
        if declared[name].static:
            raise ValueError(
                f"{name}: cannot be swept (it fixes the compiled program); got {values}"
            )
        if len({jax.tree.structure(getattr(config, name)) for config in configs}) > 1:
            raise ValueError(
                f"{name}: the values swept must be of one form (numbers of one shape, "
                "objectives of one kind such as objectives.fbeta(beta), not None beside "
                f"values); got {values}"
            )
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *configs)
    fits, fit_score, heldout_score = _cross_validate_points(
        stacked, rows, ids, n_folds, len(configs), bool(progress)
    )
    grid = {
        name: np.asarray([declared[name].record(getattr(config, name)) for config in configs])
        for name in swept
    }
    return SweepResult(grid, fit_score, heldout_score, fits.thresholds, ids)
