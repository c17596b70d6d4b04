"""Threshold-free metrics of the scores: average precision and ROC AUC, exactly as
scikit-learn's ``average_precision_score`` and ``roc_auc_score`` define them.

**Levels.** Both metrics depend only on the order of a class's scores. Its rows of weight
> 0 fall into *levels*, one per distinct score, taken in descending order of score; level
``k`` holds ``pos_k`` positive and ``all_k`` rows in all (weights summed), and ``TP_k``,
``PP_k`` are the running totals through level ``k`` (``P``, ``N``: the class's positive
and negative weight). Thresholds sit between levels, so tied scores are never split:

* average precision, precision at each distinct threshold weighted by the increase in
  recall there, without interpolation: ``AP = sum_k (pos_k / P) * (TP_k / PP_k)``;
* ROC AUC, the trapezoid rule over the distinct thresholds: ``AUC = sum_k (neg_k / N) *
  (TP_k - pos_k / 2) / P`` with ``neg_k = all_k - pos_k`` (a negative tied with positives
  gets half credit for them).

One function computes both from levels (:func:`level_sums`, written once for ``jnp`` and
``np``); levels of zero weight add nothing, so every class can have the same static
number of them, and a class's levels can be summed in pieces. In-memory rows get their
levels from one sort of each class's order keys (:func:`ranking_of_slots`, with the
idioms of :mod:`jaxthresh.core.cuts`: column blocks, so that only one block's temporaries
are alive; on CPU one NumPy callback per block sorts, then sums the levels piece by piece
in float64, elsewhere ``lax.sort``, associative scans and float32 terms summed pairwise);
a :class:`jaxthresh.Histogram` has them already, one per cell (each cell is one tied
score, the top cell first). ``bins=`` computes on the histogram of the rows, by that same
path: exact where no cell holds two distinct scores of a class.

**Averages** (as scikit-learn's): ``"macro"``, the mean over classes; ``"weighted"``, the
mean weighted by each class's positive weight; ``"micro"``, every ``(label, score)`` pair
pooled into one binary problem (one sort of ``n * classes`` keys; on a histogram, the
cells of every class pooled, each at its centre, so that cells of different classes are
ordered by their centres: exact only where those agree with the scores, as on scores that
are the cell centres); None, the per-class values, float32[classes].

**Undefined classes.** A class without positive weight has no recall: scikit-learn warns
and gives its average precision 0 (the precision at the highest threshold), so do we, and
it counts as 0 in the macro average. ROC AUC is undefined without positives or without
negatives: it is NaN for such a class, and the macro and weighted averages leave it out
(NaN where no class is left). scikit-learn (1.9) also gives NaN per class, but its macro
and weighted averages then become NaN (older versions raised), and its weighted average
is 0 where no class has positives. Each case is one
:class:`jaxthresh.core.diagnostics.FitWarning` naming the classes, on concrete inputs only.

Counts are exact: integer running totals of bool or int weights (float sums of float
weights), from which each term is formed (float64 on CPU, float32 elsewhere); everything
works inside ``jit`` and ``vmap`` (value checks and warnings only on concrete inputs).
"""

from __future__ import annotations

import functools
import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh.core import batching, cuts, diagnostics, validation
from jaxthresh.core.histogram import (
    Histogram,
    cell_centres,
    checked_histogram,
    score_histogram,
)
from jaxthresh.core.metrics import count_dtype
from jaxthresh.core.validation import Rows

#: The averages of :func:`average_precision` and :func:`roc_auc` (or None: per class).
AVERAGES = ("macro", "weighted", "micro")


class Ranking(NamedTuple):
    """Average precision and ROC AUC of some columns (each field ``[columns]``: the
    classes, or one pooled column for the micro average).

    Attributes:
      average_precision: float32, 0 where ``positives`` is 0.
      roc_auc: float32, NaN where ``positives`` or ``negatives`` is 0.
      positives: the positive weight (int32, or float32 for float weights).
      negatives: the negative weight.
    """

    average_precision: jax.Array
    roc_auc: jax.Array
    positives: jax.Array
    negatives: jax.Array


class Levels(NamedTuple):
    """Columns as levels (see the module docstring), each field ``[columns, m]``, in
    descending order of score; slots of weight 0 anywhere (they add nothing).

    Attributes:
      positives: the positive weight of each level (int32, or float32).
      totals: the weight of all of its rows.
      true_positives: the running total of ``positives`` through each level.
      predicted: the running total of ``totals``.
    """

    positives: jax.Array
    totals: jax.Array
    true_positives: jax.Array
    predicted: jax.Array

    @classmethod
    def of(cls, positives: jax.Array, totals: jax.Array) -> Levels:
        """The levels of weights ``positives`` and ``totals`` (``[columns, m]``)."""
        return cls(positives, totals, *running_sums(positives, totals))


def running_sums(*values: jax.Array) -> tuple[jax.Array, ...]:
    """The running sums along the rows of ``[columns, m]`` arrays: exact for integers,
    pairwise for floats (an associative scan: several times faster than ``jnp.cumsum``,
    a ``reduce_window``, on CPU)."""
    return _scan(jnp.add, values)


def _scan(function, values: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
    """The running ``function`` (an associative elementwise one) of each array along its
    rows, in one associative scan."""

    def combine(a, b):
        return tuple(function(x, y) for x, y in zip(a, b, strict=True))

    return tuple(jax.lax.associative_scan(combine, tuple(values), axis=1))


def level_metrics(levels: Levels, xp=jnp) -> Ranking:
    """:class:`Ranking` of columns given as :class:`Levels` (see the module docstring):
    float32 terms summed pairwise (``xp=jnp``, traceable), or float64 ones (``xp=np``)."""
    positive_weight = levels.true_positives[:, -1]
    negative_weight = levels.predicted[:, -1] - positive_weight
    sums = level_sums(levels, positive_weight, negative_weight, xp)
    return ranking_of(*sums, positive_weight, negative_weight, xp)


def level_sums(levels: Levels, positive_weight, negative_weight, xp=jnp) -> tuple:
    """``(average precision, ROC AUC)`` of each column, ``[columns]``, summed over these
    of its levels only: the one place the two metrics are computed. A column's levels can
    come in pieces (with their running totals), whose sums add up.

    Args:
      levels: :class:`Levels`, ``[columns, m]``.
      positive_weight, negative_weight: ``[columns]``, each column's ``P`` and ``N`` over
        all of its levels.
      xp: ``jnp`` (float32 terms, summed pairwise) or ``np`` (float64 terms).
    """
    dtype = np.float64 if xp is np else jnp.float32
    positives, totals, true_positives, predicted = levels
    p = positive_weight.astype(dtype)[:, None]
    n = negative_weight.astype(dtype)[:, None]
    safe_p, safe_n = xp.where(p > 0, p, 1), xp.where(n > 0, n, 1)
    level_positives = positives.astype(dtype)
    precision = true_positives.astype(dtype) / xp.where(predicted > 0, predicted, 1).astype(dtype)
    # The true positive rate halfway through the level: ties between its positives and
    # negatives count half.
    height = (true_positives.astype(dtype) - level_positives / 2) / safe_p
    negatives = (totals - positives).astype(dtype)
    total = functools.partial(np.sum, axis=1) if xp is np else pairwise_sum
    return total(level_positives / safe_p * precision), total(negatives / safe_n * height)


def ranking_of(average_precision, auc, positive_weight, negative_weight, xp=jnp) -> Ranking:
    """The :class:`Ranking` of the sums of :func:`level_sums` (its undefined values set)."""
    defined = (positive_weight > 0) & (negative_weight > 0)
    return Ranking(
        xp.where(positive_weight > 0, average_precision, 0).astype(np.float32),
        xp.where(defined, auc, np.nan).astype(np.float32),
        positive_weight,
        negative_weight,
    )


def pairwise_sum(values: jax.Array) -> jax.Array:
    """The sums of the rows of float32 ``values [columns, m]``, pairwise (halves added
    until one is left): rounding errors grow with ``log m``, where XLA's fused reductions
    on CPU accumulate them over long runs (``5e-6`` of a sum of 7,000 terms)."""
    width = 1 << max(values.shape[1] - 1, 0).bit_length()
    values = jnp.pad(values, ((0, 0), (0, width - values.shape[1])))
    while values.shape[1] > 1:
        half = values.shape[1] // 2
        values = values[:, :half] + values[:, half:]
    return values[:, 0]


def sorted_levels(keys: jax.Array, positives: jax.Array, totals: jax.Array) -> Levels:
    """The :class:`Levels` of sorted slots: at the last slot of each run of equal keys,
    the weights of the run, 0 elsewhere; the running totals are those of the slots (equal
    to those of the levels wherever a level has weight).

    Args:
      keys: int32[columns, m], each row ascending (:func:`jaxthresh.core.cuts.
        descending_keys`: descending scores), :data:`jaxthresh.core.cuts.SENTINEL`
        after the kept slots.
      positives: ``[columns, m]``, the positive weight of each slot (0 past the kept ones).
      totals: ``[columns, m]``, the weight of each slot (0 past the kept ones).
    """
    last = cuts.last_of_runs(keys)
    running = running_sums(positives, totals)
    # The running totals at the end of the run before each slot's: the highest at a run's
    # end so far (running totals never decrease), shifted by one slot.
    ends = _scan(jnp.maximum, tuple(jnp.where(last, r, 0) for r in running))
    levels = tuple(
        jnp.where(last, jnp.maximum(r - jnp.pad(e[:, :-1], ((0, 0), (1, 0))), 0), 0)
        for r, e in zip(running, ends, strict=True)
    )
    return Levels(*levels, *running)


#: The NumPy side of the sorts on CPU sums the levels in pieces of about this many slots.
CHUNK_SLOTS = 1 << 16


def _numpy_ranking(keys: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple:
    """Host side of :func:`ranking_of_slots` on CPU: the fields of :class:`Ranking`.

    Bool and int weights: each slot packed into one int64 (its key in the high 32 bits,
    its int weight, if any, then its label in the lowest bit) and sorted by value, several
    times faster than an argsort and the gathers of the payloads. Float weights: an
    argsort. The levels then come in pieces of :data:`CHUNK_SLOTS` (running totals
    carried over: int64, or float64), whose :func:`level_sums` (float64) add up, so that
    besides the sorted slots only a piece's temporaries are alive."""
    keys, labels, weights = np.asarray(keys), np.asarray(labels, bool), np.asarray(weights)
    columns, m = keys.shape
    floats = weights.dtype == np.float32
    positive = labels & (weights > 0)
    accumulator = np.float64 if floats else np.int64
    positive_weight = np.sum(np.where(positive, weights, 0), axis=1, dtype=accumulator)
    negative_weight = np.sum(weights, axis=1, dtype=accumulator) - positive_weight
    if floats:
        order = np.argsort(keys, axis=-1)

        def piece(start, stop):
            index = order[:, start:stop]
            slot_weights = np.take_along_axis(weights, index, axis=1)
            slot_labels = np.take_along_axis(labels, index, axis=1)
            return np.take_along_axis(keys, index, axis=1), slot_weights, slot_labels

    else:
        packed = np.left_shift(keys, 32, dtype=np.int64)
        if weights.dtype != np.bool_:
            packed |= np.left_shift(weights, 1, dtype=np.int64)
        packed |= positive
        packed.sort(axis=-1)
        # The two halves of each int64, as views (no int64 temporaries).
        high, low = (1, 0) if sys.byteorder == "little" else (0, 1)
        sorted_keys = packed.view(np.int32)[..., high::2]
        sorted_low = packed.view(np.uint32)[..., low::2]

        def piece(start, stop):
            keys, low = sorted_keys[:, start:stop], sorted_low[:, start:stop]
            if weights.dtype == np.bool_:
                return keys, keys != cuts.SENTINEL, (low & 1).astype(bool)
            return keys, low >> 1, (low & 1).astype(bool)

    del positive
    step = max(1, CHUNK_SLOTS // columns)
    zero = np.zeros(columns, accumulator)
    carried = [zero, zero, zero, zero]  # running totals, and their values at the last run end
    sums = [np.zeros(columns), np.zeros(columns)]
    for start in range(0, m, step):
        stop = min(start + step, m)
        keys, totals, is_positive = piece(start, min(stop + 1, m))  # one more, if any
        last = keys != cuts.SENTINEL
        last[:, :-1] &= keys[:, 1:] != keys[:, :-1]
        if stop < m:  # the slot after the piece only told whether its last run ends
            totals, is_positive, last = (a[:, :-1] for a in (totals, is_positive, last))
        positives = np.where(is_positive, totals, 0)
        levels, running = [], []
        for i, values in enumerate((positives, totals)):
            total = carried[i][:, None] + np.cumsum(values, axis=1, dtype=accumulator)
            ends = np.where(last, total, carried[2 + i][:, None])
            np.maximum.accumulate(ends, axis=1, out=ends)
            before = np.concatenate([carried[2 + i][:, None], ends[:, :-1]], axis=1)
            levels.append(np.where(last, total - before, 0))
            running.append(total)
            carried[i], carried[2 + i] = total[:, -1], ends[:, -1]
        piece_sums = level_sums(Levels(*levels, *running), positive_weight, negative_weight, np)
        sums = [s + piece_sum for s, piece_sum in zip(sums, piece_sums, strict=True)]
    count = np.float32 if floats else np.int32
    return tuple(
        ranking_of(*sums, positive_weight.astype(count), negative_weight.astype(count), np)
    )


def ranking_of_slots(
    keys: jax.Array, labels: jax.Array, weights: jax.Array, variant: str | None = None
) -> Ranking:
    """The :class:`Ranking` of unsorted slots, ``[columns, m]`` each: int32 ``keys``
    (:func:`jaxthresh.core.cuts.kept_keys`: left out slots
    :data:`jaxthresh.core.cuts.SENTINEL`), bool ``labels`` and ``weights`` (bool, int32
    or float32). One sort of each row: on CPU in one NumPy callback that also sums the
    levels (:func:`_numpy_ranking`: XLA's scans are ten times slower there, and only
    ``[columns]`` vectors come back); elsewhere :func:`jaxthresh.core.cuts.sort_with`,
    :func:`sorted_levels` and :func:`level_metrics`."""
    count = jnp.float32 if weights.dtype == jnp.float32 else jnp.int32

    def cpu(keys, labels, weights):
        column = keys.shape[:-1]
        shapes = Ranking(
            *(jax.ShapeDtypeStruct(column, dtype) for dtype in (jnp.float32,) * 2 + (count,) * 2)
        )
        return Ranking(
            *jax.pure_callback(
                _numpy_ranking, tuple(shapes), keys, labels, weights, vmap_method="sequential"
            )
        )

    def generic(keys, labels, weights):
        if weights.dtype == jnp.bool_:
            keys, positive = cuts.sort_with(keys, (labels & weights,), "generic")
            totals = (keys != cuts.SENTINEL).astype(jnp.int32)
            return level_metrics(sorted_levels(keys, positive.astype(jnp.int32), totals))
        keys, labels, totals = cuts.sort_with(keys, (labels, weights), "generic")
        return level_metrics(sorted_levels(keys, jnp.where(labels, totals, 0), totals))

    return batching.by_platform(variant, cpu=cpu, generic=generic)(keys, labels, weights)


def _sorted_ranking(block: tuple[jax.Array, jax.Array, jax.Array]) -> Ranking:
    """:class:`Ranking` of a block of columns, ``(scores, weights, labels)`` each
    ``[columns, m]`` (weights bool, int32 or float32): one sort per column."""
    scores, weights, labels = block
    return ranking_of_slots(cuts.kept_keys(scores, weights > 0), labels, weights)


def _row_ranking(rows: Rows, *, micro: bool) -> Ranking:
    """:class:`Ranking` of each class of ``rows`` (``micro``: of every score pooled, one
    column), from one sort of each column, column blocks at a time."""
    scores, labels = rows.scores, rows.labels
    weights = rows.element_weights
    if weights.dtype != jnp.bool_:
        weights = weights.astype(count_dtype(weights.dtype))
    weights = jnp.broadcast_to(weights, scores.shape)
    if micro:  # [n * classes, 1]: a reshape of row-major arrays, not a copy
        scores, labels, weights = (a.reshape(-1, 1) for a in (scores, labels, weights))
    return cuts.map_column_blocks(_sorted_ranking, (scores, weights, labels))


def _histogram_ranking(histogram: Histogram, *, micro: bool) -> Ranking:
    """:class:`Ranking` of each class of a histogram, each cell one level (``micro``: the
    cells of every class pooled, ordered by their centres, one column)."""
    if not micro:
        return level_metrics(Levels.of(histogram.positives[:, ::-1], histogram.counts[:, ::-1]))
    counts = histogram.counts.reshape(1, -1)
    keys = cuts.kept_keys(cell_centres(histogram).reshape(1, -1), counts > 0)
    keys, totals, positives = cuts.sort_with(keys, (counts, histogram.positives.reshape(1, -1)))
    return level_metrics(sorted_levels(keys, positives, totals))


def _averaged(ranking: Ranking, metric: str, average: str | None) -> jax.Array:
    """The ``average`` of one metric of a :class:`Ranking` (see the module docstring)."""
    values = getattr(ranking, metric)
    if average is None:
        return values
    if average == "micro":
        return values[0]
    if metric == "roc_auc":
        defined, fallback = ~jnp.isnan(values), jnp.nan
    else:
        defined, fallback = jnp.ones(values.shape, bool), 0.0  # scikit-learn's weighted 0
    if average == "macro":
        weights = defined.astype(jnp.float32)
    else:
        weights = jnp.where(defined, ranking.positives.astype(jnp.float32), 0)
    total = jnp.sum(weights)
    weighted = jnp.sum(jnp.where(defined, values, 0) * weights)
    return jnp.where(total > 0, weighted / jnp.where(total > 0, total, 1), fallback).astype(
        jnp.float32
    )


@batching.jit(static_argnames=("micro", "bins"))
def row_ranking(rows: Rows, *, micro: bool = False, bins: int | None = None) -> Ranking:
    """:class:`Ranking` of each class of :class:`jaxthresh.core.validation.Rows` (``micro``:
    of every score pooled, one column); ``bins``: on their histogram of that many cells
    per class (:func:`histogram_ranking`). Both metrics and every average of a call
    share this one compiled program; :func:`averaged` reduces it."""
    if bins is None:
        return _row_ranking(rows, micro=micro)
    return _histogram_ranking(score_histogram(rows, bins=bins), micro=micro)


@batching.jit(static_argnames=("micro",))
def histogram_ranking(histogram: Histogram, *, micro: bool = False) -> Ranking:
    """:class:`Ranking` of each class of a :class:`jaxthresh.Histogram`, each cell one
    tied score (``micro``: the cells of every class pooled by their centres)."""
    return _histogram_ranking(histogram, micro=micro)


averaged = batching.jit(_averaged, static_argnames=("metric", "average"))


def _checked_average(average) -> str | None:
    if average is None:
        return None
    return validation.choice(average, AVERAGES, "average")


def _rows(labels, scores, sample_weight, bins) -> tuple[Rows, int | None]:
    """Checked rows (static bounds dropped: one compiled program per shape) and bins."""
    rows = validation.as_rows(scores, labels, sample_weight)
    bins = validation.bins(bins, rows.scores.shape[1])
    return rows._replace(max_positives=None, total_positives=None), bins


def warn_undefined(ranking: Ranking, metric: str, average: str | None, name: str) -> None:
    """One :class:`jaxthresh.core.diagnostics.FitWarning` naming the columns where
    ``metric`` is undefined, on a concrete ``ranking`` (nothing under tracing)."""
    if validation.is_traced(ranking):
        return
    positives, negatives = (np.asarray(v) for v in jax.device_get(ranking[2:]))
    no_positives = np.flatnonzero(positives <= 0)
    no_negatives = np.flatnonzero(negatives <= 0)
    if metric == "average_precision":
        if not len(no_positives):
            return
        if average == "micro":
            diagnostics.warn(
                f"{name}: no positive label in any class: the micro average precision is 0 "
                "(as scikit-learn's)"
            )
            return
        diagnostics.warn(
            f"{name}: no positive rows in {diagnostics.class_list(no_positives)}: their "
            "average precision is undefined and counted as 0 (as scikit-learn's)"
        )
        return
    if average == "micro":
        missing = [
            what
            for what, columns in (("positive", no_positives), ("negative", no_negatives))
            if len(columns)
        ]
        if missing:
            diagnostics.warn(
                f"{name}: no {' and no '.join(missing)} label in any class: the micro ROC AUC "
                "is undefined (NaN)"
            )
        return
    parts = [
        f"{diagnostics.class_list(columns)} without {what} rows"
        for what, columns in (("positive", no_positives), ("negative", no_negatives))
        if len(columns)
    ]
    if parts:
        left_out = "" if average is None else f"; the {average} average leaves them out"
        diagnostics.warn(
            f"{name}: ROC AUC is undefined (NaN) for {' and for '.join(parts)}{left_out}"
        )


def _metric_of_rows(metric: str, labels, scores, sample_weight, average, bins) -> jax.Array:
    """``metric`` ("average_precision" or "roc_auc") of checked rows, averaged; the
    classes where it is undefined named in a warning."""
    average = _checked_average(average)
    rows, bins = _rows(labels, scores, sample_weight, bins)
    ranking = row_ranking(rows, micro=average == "micro", bins=bins)
    value = averaged(ranking, metric, average)
    warn_undefined(ranking, metric, average, "labels")
    return value


def average_precision(
    labels, scores, sample_weight=None, *, average: str | None = "macro", bins=None
) -> jax.Array:
    """Average precision of each class's scores, equal to scikit-learn's
    ``average_precision_score`` (see :mod:`jaxthresh.core.ranking`); works inside ``jit``
    and ``vmap``.

    Args:
      labels: 0/1 or bool ``[n, classes]``.
      scores: real ``[n, classes]`` (compared as float32).
      sample_weight: None, or non-negative weights of rows ``[n]`` (bool, int or float;
        rows of weight 0 are left out), or of labels ``[n, classes]``.
      average: "macro", "weighted" (by each class's positive weight), "micro" (every
        label and score pooled), or None (per class).
      bins: None for the exact value; a number of equal cells per class to compute it on
        the histogram of the rows (:func:`average_precision_of_histogram`).

    Returns:
      float32 scalar, or float32[classes] for ``average=None``. A class without positive
      rows has average precision 0 (as scikit-learn's), named in a ``FitWarning``.
    """
    return _metric_of_rows("average_precision", labels, scores, sample_weight, average, bins)


def roc_auc(
    labels, scores, sample_weight=None, *, average: str | None = "macro", bins=None
) -> jax.Array:
    """Area under each class's ROC curve, equal to scikit-learn's ``roc_auc_score``
    where every class has positive and negative rows (see :mod:`jaxthresh.core.ranking`);
    works inside ``jit`` and ``vmap``.

    Args:
      labels: 0/1 or bool ``[n, classes]``.
      scores: real ``[n, classes]`` (compared as float32).
      sample_weight: None, or non-negative weights of rows ``[n]`` (bool, int or float;
        rows of weight 0 are left out), or of labels ``[n, classes]``.
      average: "macro", "weighted" (by each class's positive weight), "micro" (every
        label and score pooled), or None (per class).
      bins: None for the exact value; a number of equal cells per class to compute it on
        the histogram of the rows (:func:`roc_auc_of_histogram`).

    Returns:
      float32 scalar, or float32[classes] for ``average=None``. A class without positive
      or without negative rows has ROC AUC NaN, is named in a ``FitWarning``, and is left
      out of the macro and weighted averages (NaN if no class is left). Here
      scikit-learn's differ: they are NaN as soon as one class with positives is undefined.
    """
    return _metric_of_rows("roc_auc", labels, scores, sample_weight, average, bins)


def average_precision_of_histogram(histogram, *, average: str | None = "macro") -> jax.Array:
    """:func:`average_precision` of a :class:`jaxthresh.Histogram` (data larger than
    memory, from :func:`jaxthresh.histogram_pass`), each cell one tied score; works
    inside ``jit`` and ``vmap``.

    Args:
      histogram: a :class:`jaxthresh.Histogram`, ``[classes, cells]`` counts.
      average: "macro", "weighted", "micro" (the cells of every class pooled, ordered by
        their centres) or None (per class).

    Returns:
      float32 scalar, or float32[classes] for ``average=None``.
    """
    average = _checked_average(average)
    histogram = checked_histogram(histogram, "histogram")
    ranking = histogram_ranking(histogram, micro=average == "micro")
    value = averaged(ranking, "average_precision", average)
    warn_undefined(ranking, "average_precision", average, "histogram")
    return value


def roc_auc_of_histogram(histogram, *, average: str | None = "macro") -> jax.Array:
    """:func:`roc_auc` of a :class:`jaxthresh.Histogram`, each cell one tied score (rows
    in one cell are tied: half credit); works inside ``jit`` and ``vmap``.

    Args:
      histogram: a :class:`jaxthresh.Histogram`, ``[classes, cells]`` counts.
      average: "macro", "weighted", "micro" (the cells of every class pooled, ordered by
        their centres) or None (per class).

    Returns:
      float32 scalar, or float32[classes] for ``average=None`` (NaN for a class without
      positive or negative rows, left out of the averages, as :func:`roc_auc`).
    """
    average = _checked_average(average)
    histogram = checked_histogram(histogram, "histogram")
    ranking = histogram_ranking(histogram, micro=average == "micro")
    value = averaged(ranking, "roc_auc", average)
    warn_undefined(ranking, "roc_auc", average, "histogram")
    return value
