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

from jaxthresh.core import validation
from jaxthresh.core.thresholds import apply_thresholds

row_blocks = validation.row_blocks


def check_scores(values) -> np.ndarray:
    """Checks scores as :func:`jaxthresh.core.validation.as_scores` does (real, 2-D, not
    empty, finite as float32: block by block), without converting them; returns them."""
    return validation.checked_scores(np.asarray(values))


def check_labels(values, shape: tuple[int, int], name: str = "labels") -> np.ndarray:
    """Checks labels as :func:`jaxthresh.core.validation.as_labels` does (bool or numbers,
    of the scores' ``shape``, each 0 or 1: block by block), without converting them."""
    return validation.checked_labels(np.asarray(values), shape=shape, name=name)


def predictions(scores: np.ndarray, thresholds) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, scores > thresholds)`` (bool) as :func:`jaxthresh.apply_thresholds`
    makes them, one block of rows after another."""
    for start, block in row_blocks(scores):
        yield start, np.asarray(apply_thresholds(block, thresholds))


def confusion_counts(
    labels: np.ndarray, scores: np.ndarray, thresholds
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class: true positives, predicted positives and positives of ``scores >
    thresholds`` against 0/1 ``labels``, as int64[classes], counted block by block."""
    n_classes = scores.shape[1]
    true_positives = np.zeros(n_classes, np.int64)
    predicted = np.zeros(n_classes, np.int64)
    positives = np.zeros(n_classes, np.int64)
    for start, predicted_block in predictions(scores, thresholds):
        truth = labels[start : start + predicted_block.shape[0]]
        truth = truth if truth.dtype == np.bool_ else truth != 0
        true_positives += np.count_nonzero(predicted_block & truth, axis=0)
        predicted += np.count_nonzero(predicted_block, axis=0)
        positives += np.count_nonzero(truth, axis=0)
    return true_positives, predicted, positives
