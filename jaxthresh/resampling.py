"""The bootstrap: how sure fitted thresholds are, every resample fitted in one compiled call.

A bootstrap resample draws the rows with replacement; drawn ``k`` times, a row weighs
``k``. So a resample is a row weight (int32 multiplicities, which every fit takes), and
all resamples are fits of the same method over one shared copy of the rows, run as
cross-validation runs its folds (:func:`jaxthresh.selection.fit_and_score_splits`: a
loop on CPU, ``vmap`` in chunks elsewhere), never a copy of the scores per resample.
Each resample is scored on its fitting rows and on the rows it left out (out of bag,
about ``1/e`` of them).

Resample ``i`` draws from ``jax.random.fold_in(key, i)``: the first resamples are the
same whatever ``n_resamples``. Rows of weight 0 are never drawn; the draws are uniform
over the other rows (as many draws as there are such rows), and a caller's weights scale
the multiplicities.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import objectives
from jaxthresh.core import batching, ranking, validation
from jaxthresh.core import folds as jaxthresh_folds
from jaxthresh.core.metrics import confusion_counts, objective_score
from jaxthresh.core.thresholds import apply_thresholds
from jaxthresh.core.validation import Rows
from jaxthresh.methods import configure, get_method
from jaxthresh.selection import fit_and_score_splits

#: Resamples batched together by ``vmap`` on accelerators (memory for this many fits'
#: intermediates at a time; on CPU they run one after the other).
CHUNK = 16


def _checked_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, int | float | np.floating):
        raise ValueError(f"level: expected a number in (0, 1), got {level!r}")
    if not 0 < float(level) < 1:
        raise ValueError(f"level: must be in (0, 1) (0.95 for a 95 % interval), got {level!r}")
    return float(level)


def _percentile_interval(values: jax.Array, level, axis: int = 0) -> tuple[jax.Array, jax.Array]:
    """The ``(low, high)`` percentile interval of ``values`` along ``axis`` (linear
    interpolation, NumPy's default), NaNs left out."""
    level = _checked_level(level)
    quantiles = jnp.asarray([(1 - level) / 2, (1 + level) / 2], jnp.float32)
    low, high = jnp.nanquantile(jnp.asarray(values, jnp.float32), quantiles, axis=axis)
    return low, high


class BootstrapResult(NamedTuple):
    """Result of :func:`bootstrap`: ``R`` resamples of ``n`` rows, each fitted.

    Attributes:
      thresholds: float32[R, classes], the thresholds fitted on each resample.
      fit_score: float32[R], the method's objective (averaged as its ``average``) on each
        resample's rows, weighted by their multiplicities.
      oob_score: float32[R], the objective on the rows each resample left out (NaN where it
        left out none of weight > 0).
      sample_weight: int32[R, n], the multiplicities of each resample (before a caller's
        weights scale them): ``fit(method, scores, labels, result.sample_weight[i] *
        weights)`` re-fits resample ``i`` (``result.sample_weight[i]`` without weights).
      fits: the method's own result (e.g. :class:`jaxthresh.SGLResult`), every field
        with a leading ``R`` axis.
    """

    thresholds: jax.Array
    fit_score: jax.Array
    oob_score: jax.Array
    sample_weight: jax.Array
    fits: Any

    def interval(self, level: float = 0.95) -> tuple[jax.Array, jax.Array]:
        """``(low, high)``, float32[classes] each: the per-class percentile interval of the
        resamples' thresholds holding ``level`` of them (NumPy's ``percentile`` at
        ``50 (1 - level)`` and ``50 (1 + level)``, linear interpolation)."""
        return _percentile_interval(self.thresholds, level)

    def score_interval(self, level: float = 0.95) -> tuple[jax.Array, jax.Array]:
        """``(low, high)``: the percentile interval of the out-of-bag scores (resamples
        that left nothing out are left out)."""
        return _percentile_interval(self.oob_score, level)

    def bagged(self) -> jax.Array:
        """float32[classes]: the per-class median of the resamples' thresholds (bagging)."""
        return jnp.median(jnp.asarray(self.thresholds, jnp.float32), axis=0)


def multiplicities(key: jax.Array, kept: jax.Array, n_resamples: int) -> jax.Array:
    """int32[n_resamples, n]: for each resample, how many times each row is drawn, in as
    many uniform draws with replacement as there are ``kept`` rows (bool[n]); rows not
    kept are never drawn. Resample ``i`` uses ``jax.random.fold_in(key, i)``."""
    n_rows = kept.shape[0]
    n_kept = jnp.sum(kept, dtype=jnp.int32)
    # The kept rows' indices first (a stable order), then padding never drawn.
    kept_rows = jnp.nonzero(kept, size=n_rows, fill_value=0)[0].astype(jnp.int32)

    def one(index):
        draws = jax.random.randint(jax.random.fold_in(key, index), (n_rows,), 0, n_kept)
        counted = (jnp.arange(n_rows) < n_kept).astype(jnp.int32)
        return jnp.zeros(n_rows, jnp.int32).at[kept_rows[draws]].add(counted)

    return jax.vmap(one)(jnp.arange(n_resamples))


def _kept_rows(weights: jax.Array) -> jax.Array:
    """bool[n]: the rows of weight > 0 (any of their labels, for per-label weights)."""
    kept = weights if weights.dtype == jnp.bool_ else weights > 0
    return kept if kept.ndim == 1 else jnp.any(kept, axis=1)


def _check_resampled_totals(counts: np.ndarray, weights: jax.Array, n_classes: int) -> None:
    """Refuses concrete weights (``Rows.weights``, ``[n]`` or ``[n, classes]``) whose
    resampled totals (multiplicities times weights) the counts cannot hold exactly (see
    :func:`jaxthresh.core.validation.check_weight_totals`)."""
    per_row = validation.host_row_totals(weights)
    pooled = counts.astype(np.float64) @ per_row * (n_classes if weights.ndim == 1 else 1)
    floats = jnp.issubdtype(weights.dtype, jnp.floating)
    limit = validation.MAX_FLOAT_TOTAL if floats else validation.MAX_COUNT
    if pooled.max(initial=0) > limit:
        raise ValueError(
            f"sample_weight: a bootstrap resample's weights total {pooled.max():.4g} over "
            f"the classes, more than its counts hold ({limit:.4g}); divide the weights by a "
            "constant (multiplying every weight by one number changes no F-beta)"
        )


@batching.jit(static_argnames=("progress",))
def _fit_resamples(config, rows: Rows, counts: jax.Array, progress: bool):
    """Every resample (multiplicities ``counts [R, n]``) fitted and scored:
    ``(fits, fit_score, oob_score)``."""
    configs = jax.tree.map(lambda leaf: jnp.asarray(leaf)[None], config)
    out_of_bag = counts == 0
    fits, fit_score, oob_score = fit_and_score_splits(
        configs, rows, counts, out_of_bag, 1, progress, chunk=CHUNK
    )
    fits = jax.tree.map(lambda leaf: leaf[0], fits)
    kept = _kept_rows(rows.weights)
    left_out = jnp.any(out_of_bag & kept[None], axis=1)
    return fits, fit_score[0], jnp.where(left_out, oob_score[0], jnp.nan)


def bootstrap(
    scores,
    labels,
    method: str = "exact",
    sample_weight=None,
    *,
    n_resamples: int = 200,
    key=None,
    progress: bool = False,
    **hyperparameters,
) -> BootstrapResult:
    """Fits ``method`` on ``n_resamples`` bootstrap resamples of the rows, in one compiled
    call: how much each class's threshold, and the score on unseen rows, would move with
    other validation rows from the same source.

    Each resample draws the rows of weight > 0 with replacement, as many times as there
    are such rows (multinomial counts), and fits on them weighted by their
    multiplicities (times ``sample_weight``); it is scored on those rows and on the rows it
    left out. Works inside ``jit`` and ``vmap`` (``n_resamples`` static) and for every
    method and objective.

    Args:
      scores: real ``[n, classes]``, NumPy or JAX.
      labels: 0/1 or bool ``[n, classes]``.
      method: a registered method name (see :data:`jaxthresh.METHODS`); it may also
        come after the weights: ``f(*jaxthresh.shard_rows(s, y), "sgl")``.
      sample_weight: None, or non-negative weights of rows ``[n]`` or labels
        ``[n, classes]``; rows of weight 0 are never drawn.
      n_resamples: ``R``, the number of resamples, at least 2.
      key: the ``jax.random`` key of the draws; None for ``jax.random.key(0)``.
      progress: log the progress of long loops.
      **hyperparameters: the method's keyword arguments; its ``objective`` and
        ``average`` also choose the reported scores.

    Returns:
      :class:`BootstrapResult`: ``interval(0.95)`` of the thresholds, ``score_interval``
      of the out-of-bag score, ``bagged()`` thresholds.
    """
    n_resamples = validation.positive_int(n_resamples, "n_resamples", minimum=2)
    method, sample_weight = validation.method_and_weights(method, sample_weight)
    rows = validation.as_rows(scores, labels, sample_weight)
    get_method(method)
    n_rows, n_classes = rows.scores.shape
    key = jax.random.key(0) if key is None else validation.prng_key(key, "key")
    traced = validation.is_traced(rows)
    if not traced and int(jnp.sum(_kept_rows(rows.weights))) < 2:
        raise ValueError(
            "sample_weight: fewer than 2 rows weigh more than 0; a bootstrap needs rows to "
            "resample and rows to leave out"
        )
    config = configure(method, n_classes, n_rows, **hyperparameters)
    counts = _multiplicities(key, _kept_rows(rows.weights), n_resamples)
    if not traced and rows.weights.dtype != jnp.bool_:  # before any fit
        _check_resampled_totals(np.asarray(counts), rows.weights, n_classes)
    fits, fit_score, oob_score = _fit_resamples(config, rows, counts, bool(progress))
    return BootstrapResult(fits.thresholds, fit_score, oob_score, counts, fits)


_multiplicities = batching.jit(multiplicities, static_argnames=("n_resamples",))


class MetricsBootstrap(NamedTuple):
    """Result of :func:`bootstrap_metrics`: fixed thresholds scored on ``R`` resamples of
    the evaluated rows.

    Attributes:
      micro_f1: float32[R].
      macro_f1: float32[R].
      mean_average_precision: float32[R], the macro average precision (threshold-free).
      sample_weight: int32[R, n], the multiplicities of each resample.
    """

    micro_f1: jax.Array
    macro_f1: jax.Array
    mean_average_precision: jax.Array
    sample_weight: jax.Array

    def intervals(self, level: float = 0.95) -> dict[str, tuple[jax.Array, jax.Array]]:
        """``{name: (low, high)}``: the percentile interval of each metric over the
        resamples (as :meth:`BootstrapResult.interval`)."""
        names = ("micro_f1", "macro_f1", "mean_average_precision")
        return {name: _percentile_interval(getattr(self, name), level) for name in names}


@batching.jit(static_argnames=("n_resamples",))
def _metrics_of_resamples(rows: Rows, predictions, key, n_resamples: int):
    counts = multiplicities(key, _kept_rows(rows.weights), n_resamples)
    f1 = objectives.get("f1")

    def one(multiplicity):
        weights = jaxthresh_folds.scaled_weights(rows.weights, multiplicity)
        counted = confusion_counts(rows.labels, predictions, weights)
        micro = objective_score(counted, f1, "micro")
        macro = objective_score(counted, f1, "macro")
        per_class = ranking.row_ranking(rows._replace(weights=weights))
        mean_ap = ranking.averaged(per_class, "average_precision", "macro")
        return micro, macro, mean_ap

    micro, macro, mean_ap = batching.map_batch(one, counts, chunk=CHUNK)
    return MetricsBootstrap(micro, macro, mean_ap, counts)


def bootstrap_metrics(
    labels,
    scores,
    thresholds,
    sample_weight=None,
    *,
    n_resamples: int = 200,
    key=None,
    min_labels: int = 0,
    max_labels: int | None = None,
) -> MetricsBootstrap:
    """How much the evaluation of fixed ``thresholds`` would move with other evaluation
    rows: micro-F1, macro-F1 and mAP on ``n_resamples`` bootstrap resamples of the rows
    (drawn as :func:`bootstrap` draws them), in one compiled call. Works inside ``jit``.

    Args:
      labels: 0/1 or bool ``[n, classes]``.
      scores: real ``[n, classes]``.
      thresholds: a real scalar or ``[classes]``.
      sample_weight: None, or non-negative row weights ``[n]``.
      n_resamples: ``R``, at least 2.
      key: the ``jax.random`` key of the draws; None for ``jax.random.key(0)``.
      min_labels, max_labels: the decoding rules of the predictions
        (:func:`jaxthresh.apply_thresholds`).

    Returns:
      :class:`MetricsBootstrap`; ``intervals(0.95)`` gives each metric's interval.
    """
    n_resamples = validation.positive_int(n_resamples, "n_resamples", minimum=2)
    rows = validation.as_rows(scores, labels, sample_weight)
    if rows.weights.ndim != 1:
        raise ValueError("sample_weight: bootstrap_metrics takes row weights [n] only")
    key = jax.random.key(0) if key is None else validation.prng_key(key, "key")
    predictions = apply_thresholds(
        rows.scores, thresholds, min_labels=min_labels, max_labels=max_labels
    )
    return _metrics_of_resamples(rows, predictions, key, n_resamples)
