"""Large score and label matrices, checked and thresholded a block of rows at a time.

``jaxthresh apply`` and ``evaluate`` hold the scores (and labels) as loaded, in their own
dtype, and nothing else of their size: the value checks, the predictions and the confusion
counts run on blocks of rows of about
:data:`jaxthresh.core.validation.BLOCK_BYTES` each, so that memory stays near
the inputs' size however many rows there are. The checks are those of
:mod:`jaxthresh.core.validation` (which check NumPy arrays block by block too);
predictions are :func:`jaxthresh.apply_thresholds` of each block.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from jaxthresh.core import ranking as ranking_module
from jaxthresh.core import validation
from jaxthresh.core.thresholds import apply_thresholds, decoding_rules

row_blocks = validation.row_blocks


def check_scores(values) -> np.ndarray:
    """Checks scores as :func:`jaxthresh.core.validation.as_scores` does (real, 2-D, not
    empty, finite as float32: block by block), without converting them; returns them."""
    return validation.checked_scores(np.asarray(values))


def check_labels(values, shape: tuple[int, int], name: str = "labels") -> np.ndarray:
    """Checks labels as :func:`jaxthresh.core.validation.as_labels` does (bool or numbers,
    of the scores' ``shape``, each 0 or 1: block by block), without converting them."""
    return validation.checked_labels(np.asarray(values), shape=shape, name=name)


def predictions(
    scores: np.ndarray, thresholds, *, min_labels: int = 0, max_labels: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, scores > thresholds)`` (bool) as :func:`jaxthresh.apply_thresholds`
    makes them, one block of rows after another; ``min_labels`` and ``max_labels`` (its
    per-row decoding rules, checked before the first block) decode each block."""
    decoding_rules(min_labels, max_labels, scores.shape[1])
    return _predictions(scores, thresholds, min_labels, max_labels)


def _predictions(scores, thresholds, min_labels, max_labels):
    for start, block in row_blocks(scores):
        decoded = apply_thresholds(block, thresholds, min_labels=min_labels, max_labels=max_labels)
        yield start, np.asarray(decoded)


def confusion_counts(
    labels: np.ndarray,
    scores: np.ndarray,
    thresholds,
    *,
    min_labels: int = 0,
    max_labels: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class: true positives, predicted positives and positives of ``scores >
    thresholds`` (decoded with ``min_labels`` and ``max_labels``, :func:`predictions`)
    against 0/1 ``labels``, as int64[classes], counted block by block."""
    n_classes = scores.shape[1]
    true_positives = np.zeros(n_classes, np.int64)
    predicted = np.zeros(n_classes, np.int64)
    positives = np.zeros(n_classes, np.int64)
    decoded = predictions(scores, thresholds, min_labels=min_labels, max_labels=max_labels)
    for start, predicted_block in decoded:
        truth = labels[start : start + predicted_block.shape[0]]
        truth = truth if truth.dtype == np.bool_ else truth != 0
        true_positives += np.count_nonzero(predicted_block & truth, axis=0)
        predicted += np.count_nonzero(predicted_block, axis=0)
        positives += np.count_nonzero(truth, axis=0)
    return true_positives, predicted, positives


def ranking(labels, scores, bins: int | None = None):
    """Each class's average precision and ROC AUC (a
    :class:`jaxthresh.core.ranking.Ranking` of ``[classes]``, from exact counts, or on
    ``bins`` histogram cells per class), a block of columns at a time: each block of about
    an eighth of :data:`jaxthresh.core.validation.BLOCK_BYTES` of scores is copied, sorted
    and ranked before the next (a sort's temporaries take about ten times its keys), so
    that memory stays near the inputs' size."""
    n_rows, n_classes = scores.shape
    step = max(1, validation.BLOCK_BYTES // 8 // max(1, 4 * n_rows))
    parts = []
    for start in range(0, n_classes, step):
        columns = slice(start, start + step)
        rows = validation.as_rows(
            np.ascontiguousarray(scores[:, columns]), np.asarray(labels[:, columns])
        )
        block = ranking_module.row_ranking(
            rows._replace(max_positives=None, total_positives=None), bins=bins
        )
        parts.append([np.asarray(field) for field in block])
    return ranking_module.Ranking(*(np.concatenate(field) for field in zip(*parts, strict=True)))
