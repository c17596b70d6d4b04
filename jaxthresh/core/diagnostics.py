"""Warnings where a fit cannot work as asked, named by class.

A fit on concrete inputs is followed by cheap checks of what it was given and what it
found (:func:`jaxthresh.methods.fit` runs them); each problem is one
:class:`FitWarning` through Python's ``warnings``, naming the classes concerned (their count
and the first few). The command-line tool prints each as one line on stderr.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh.core import batching
from jaxthresh.core.cuts import highest_of, lowest_of, order_keys
from jaxthresh.core.metrics import element_weights
from jaxthresh.core.validation import Rows, float32_merges, positives_per_class

#: Classes named in a warning before "..." (the count is always given).
NAMED_CLASSES = 5

#: A class is warned about when float32 merges at least this share of its float64 rows
#: into groups of both labels (:func:`jaxthresh.core.validation.float32_merges`); fewer
#: rows move F-beta by less, and the rows whose prediction float32 changes at the fitted
#: thresholds are warned about anyway (:func:`float64_warnings`).
MERGED_SHARE = 0.01


class FitWarning(UserWarning):
    """A fit ran but cannot work as asked for some classes (see the message)."""


def class_list(columns, class_names=None) -> str:
    """``"3 classes (0, 4, 7)"``, at most :data:`NAMED_CLASSES` named."""
    columns = [int(c) for c in np.asarray(columns).ravel()]
    names = [str(class_names[c]) if class_names is not None else str(c) for c in columns]
    shown = ", ".join(names[:NAMED_CLASSES]) + (", ..." if len(names) > NAMED_CLASSES else "")
    noun = "class" if len(columns) == 1 else "classes"
    return f"{len(columns)} {noun} ({shown})"


def warn(message: str) -> None:
    """Issues a :class:`FitWarning` pointing at the caller of the public function."""
    warnings.warn(message, FitWarning, stacklevel=4)


class ClassSummary(NamedTuple):
    """What the checks after a fit need of the rows, per class (float32 or int [classes]).

    Attributes:
      positives: the weight of the positive rows.
      low: the lowest score of a row of weight > 0 (``inf`` if none).
      high: the highest such score (``-inf`` if none).
      merged: bool, classes whose float64 scores float32 cannot keep apart
        (:func:`merged_classes`), or None where not checked.
    """

    positives: np.ndarray
    low: np.ndarray
    high: np.ndarray
    merged: np.ndarray | None = None


@batching.jit
def _summary(rows: Rows) -> ClassSummary:
    kept = rows.element_weights > 0
    if rows.weights.dtype == jnp.bool_:
        positives = positives_per_class(rows.labels, rows.weights)
    else:
        positives = jnp.sum(element_weights(rows.labels, rows.weights)[0], axis=0)
    low = lowest_of(rows.scores, axis=0, where=kept)
    high = highest_of(rows.scores, axis=0, where=kept)
    return ClassSummary(positives, low, high)


def histogram_summary(histogram) -> ClassSummary:
    """:class:`ClassSummary` of a :class:`jaxthresh.Histogram`: its lowest cell edge and
    highest score."""
    low, high, positives = jax.device_get((histogram.low, histogram.high, histogram.positives))
    return ClassSummary(np.asarray(positives).sum(axis=1), np.asarray(low), np.asarray(high))


def class_summary(rows: Rows) -> ClassSummary:
    """:class:`ClassSummary` of concrete rows, computed where they are (only ``[classes]``
    vectors come back to the host)."""
    return ClassSummary(*(np.asarray(v) for v in jax.device_get(_summary(rows))))


def label_warnings(summary: ClassSummary, class_names=None) -> list[str]:
    """Classes without positive rows (or no positive label at all)."""
    empty = np.flatnonzero(summary.positives == 0)
    if len(empty) == len(summary.positives):
        return [
            "labels: no row is positive in any class: there is nothing to find, and the "
            "thresholds only avoid predictions"
        ]
    if len(empty):
        return [
            f"labels: no positive rows in {class_list(empty, class_names)}: there is "
            "nothing to find there, and their thresholds only avoid false positives"
        ]
    return []


def merged_classes(scores, labels) -> tuple[np.ndarray, tuple | None]:
    """``(bool[classes], example)``: the classes where float32 merges at least
    :data:`MERGED_SHARE` of the rows of the caller's float64 ``scores`` into groups that a
    float64 threshold could split and no float32 one can, and one such pair of scores."""
    rows, example = float32_merges(scores, labels)
    return rows >= MERGED_SHARE * scores.shape[0], example


def float64_warnings(scores, thresholds, class_names=None, merged=None) -> list[str]:
    """For the caller's float64 scores: classes float32 cannot keep apart (``merged``,
    from :func:`merged_classes`), classes with non-zero values too small for float32
    (they became zero or subnormal), and classes where NumPy's float64
    ``scores > thresholds`` disagrees with the float32 comparison the fit made."""
    if not (isinstance(scores, np.ndarray) and scores.dtype == np.float64):
        return []
    messages = []
    tiny = np.finfo(np.float32).tiny
    underflow = ((scores != 0) & (np.abs(scores) < tiny)).sum(axis=0)
    if underflow.any():
        messages.append(
            f"scores: {int(underflow.sum())} non-zero float64 values of "
            f"{class_list(np.flatnonzero(underflow), class_names)} are below float32's "
            f"smallest normal number ({tiny:.3g}) and are fitted as zero or subnormal; scale "
            "the scores (for example pass logits)"
        )
    # Values that underflow are merged too: the message above says it better.
    apart = None if merged is None else merged[0] & (underflow == 0)
    if apart is not None and apart.any():
        low, high, single = merged[1]
        messages.append(
            "scores: float32 cannot keep apart the float64 scores of "
            f"{class_list(np.flatnonzero(apart), class_names)} (for example "
            f"{float(low)!r} and {float(high)!r} both become {float(single)!r}), and at least "
            f"{MERGED_SHARE:.0%} of their rows share a float32 value with rows of the other "
            "label: every method, exact included, fits float32 scores and cannot put a "
            "threshold between them; pass scores that float32 tells apart (subtract an "
            "offset, or pass probabilities or logits)"
        )
    thresholds = np.asarray(thresholds, np.float32)
    with np.errstate(over="ignore", under="ignore"):
        differ = (scores > thresholds) != (scores.astype(np.float32) > thresholds)
    counts = differ.sum(axis=0)
    classes = np.flatnonzero(counts)
    if not len(classes):
        return messages
    return [
        *messages,
        f"scores: float64 values of {class_list(classes, class_names)} lie within float32 "
        f"rounding of their thresholds: the float32 fit and NumPy's float64 comparison "
        f"predict {int(counts.sum())} of them differently; pass float32 scores (or scores "
        "that float32 represents) to fit what you will compare",
    ]


def coarse_step_warnings(
    summary: ClassSummary, step, what: str, method: str, class_names=None
) -> list[str]:
    """Classes (with positives) whose scores span less than ``step``, the amount by which
    ``method`` moves a threshold (``what`` names it)."""
    span = summary.high.astype(np.float64) - summary.low.astype(np.float64)
    coarse = np.flatnonzero((span < np.float64(step)) & (summary.positives > 0))
    if not len(coarse):
        return []
    # Where float32 merged the scores, exact cannot separate them either.
    exact_helps = summary.merged is None or not summary.merged[coarse].any()
    return [
        f"{what}: {method} moves thresholds by about {float(step):.3g}, more than the whole "
        f"range of the scores of {class_list(coarse, class_names)}: it cannot place their "
        "thresholds between their scores; rescale the scores (for example pass logits)"
        + " or use method exact"
        * exact_helps
    ]


def start_warnings(
    summary: ClassSummary, init, thresholds, method: str, rows: Rows | None, class_names=None
) -> list[str]:
    """For a method started at ``init`` (given, not derived): classes (with positives)
    whose ``init`` lies outside their scores' range, classes whose thresholds did not move
    from it, and a fit that changed no prediction on ``rows`` at all."""
    if init is None:
        return []
    init = np.broadcast_to(np.asarray(init, np.float32), summary.low.shape)
    with_positives = summary.positives > 0
    messages = []
    outside = np.flatnonzero(with_positives & ((init < summary.low) | (init >= summary.high)))
    if len(outside):
        messages.append(
            f"init: outside the range of the scores of {class_list(outside, class_names)}: "
            f"{method} predicts all or none of their rows there and its steps barely move; "
            "init=None starts at the best single threshold"
        )
    thresholds = np.asarray(thresholds, np.float32)
    unmoved = with_positives & (thresholds == init)
    if unmoved.any():
        messages.append(
            f"{method}: the thresholds of {class_list(np.flatnonzero(unmoved), class_names)} "
            "did not move from init"
        )
    if rows is None:  # a histogram fit: its rows are gone
        return messages
    same = np.asarray(_same_predictions(rows, init, thresholds))
    if with_positives.any() and np.all(same[with_positives]) and not unmoved.all():
        messages.append(
            f"{method}: no prediction changed from init: its steps are too small for the "
            "gaps between the scores (a larger learning rate, or init=None)"
        )
    return messages


@batching.jit
def _same_predictions(rows: Rows, before, after):
    """bool[classes]: whether ``scores > before`` and ``scores > after`` agree on every row
    of weight > 0 (compared on order keys, exactly)."""
    keys = order_keys(rows.scores)
    differ = (keys > order_keys(before)) != (keys > order_keys(after))
    return ~jnp.any(differ & (rows.element_weights > 0), axis=0)


#: Within this distance of zero, float32 differences of scores and thresholds can be
#: subnormal, which XLA on CPU flushes to zero (|x| >= 2**-103 keeps every difference of
#: neighbouring floats normal).
FLUSH_BAND = 2.0**-100


def near_zero_warnings(summary: ClassSummary, thresholds, method: str, class_names=None):
    """Classes whose thresholds and scores both come within :data:`FLUSH_BAND` of zero,
    where the float arithmetic of ``method`` (score minus threshold) may be flushed."""
    thresholds = np.asarray(thresholds, np.float32)
    close = (np.abs(thresholds) < FLUSH_BAND) & (thresholds != 0)
    reach = (summary.low < FLUSH_BAND) & (summary.high > -FLUSH_BAND)
    classes = np.flatnonzero(close & reach)
    if not len(classes):
        return []
    return [
        f"{method}: the thresholds and scores of {class_list(classes, class_names)} lie within "
        f"{FLUSH_BAND:.1e} of zero, where XLA flushes the differences of floats to zero on "
        "CPU: the counts behind the fit may differ from exact ones; rescale the scores (for "
        "example pass logits) or use method exact"
    ]
